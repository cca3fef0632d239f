import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { checkChat, checkHubNotFound, startExample } from './example-helpers.js';

describe('examples/metrics: /metrics on the app server, and the Grafana dashboard', () => {
  it('serves the hub series after real traffic, and the dashboard charts only series that exist', {
    timeout: 30_000,
  }, async (t) => {
    const app = await startExample('metrics');
    t.after(app.stop);
    await checkChat(`${app.ws}/chat`);
    await checkHubNotFound(`${app.ws}/no/such/socket`);

    const response = await fetch(`${app.http}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/plain/);
    const text = await response.text();
    assert.match(text, /^switchboard_handshakes_total\{route="\/chat",status="101"\} 1$/m);
    assert.match(text, /^switchboard_handshakes_total\{route="",status="404"\} 1$/m);
    assert.match(text, /^switchboard_connections\{route="\/socket\.io\/\*",kind="socket\.io"\} 0$/m);
    assert.match(text, /^switchboard_broker_up 1$/m);
    assert.match(text, /^process_cpu_user_seconds_total /m, "prom-client's default metrics beside the hub's");

    const dashboard = JSON.parse(readFileSync(new URL('../examples/metrics/grafana-dashboard.json', import.meta.url), 'utf8'));
    const exprs: string[] = dashboard.panels.flatMap((panel: { targets: Array<{ expr: string }> }) =>
      panel.targets.map((target) => target.expr),
    );
    assert.ok(exprs.length >= 8);
    const exposed = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1]));
    for (const expr of exprs) {
      for (const [name] of expr.matchAll(/switchboard_[a-z_]+/g)) {
        const family = name.replace(/_(bucket|sum|count)$/, '');
        assert.ok(exposed.has(family), `the dashboard charts ${name}, which /metrics does not expose`);
      }
    }
  });
});
