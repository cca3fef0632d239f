import { keyOf, type Truth } from './check-truth.js';
import type { CheckInput, Violation } from './check-types.js';
import type { PublishRecord } from './publishers.js';
import type { Recorded } from './truth.js';

export function checkStreams(input: CheckInput, truth: Truth, violations: Violation[], count: (name: string) => void): void {
  for (const room of input.rooms) {
    const last = new Map<string, Recorded>();
    for (const epoch of truth.epochsOf(room)) {
      for (const recorded of truth.inEpoch(room, epoch)) {
        const before = last.get(recorded.pub);
        if (before && recorded.seq <= before.seq) {
          violations.push({
            kind: 'stream-order',
            room,
            detail: `the stream records ${recorded.pub} seq ${recorded.seq} at ${epoch}:${recorded.offset}, after seq ${before.seq} at ${before.epoch}:${before.offset}`,
          });
        }
        last.set(recorded.pub, recorded);
      }
    }
  }
  for (const [key, places] of truth.byPayload) {
    if (places.length < 2) continue;
    count('stream-twice');
    violations.push({
      kind: 'stream-twice',
      room: places[0]?.room,
      detail: `publish ${key} is recorded ${places.length} times: ${places.map((place) => `${place.epoch}:${place.offset}`).join(', ')}`,
    });
  }
}

export function checkPublished(
  input: CheckInput,
  truth: Truth,
  notes: string[],
  count: (name: string, by?: number) => void,
  at: (t: number) => string,
  faultsDuring: (from: number, to: number) => string,
): void {
  const unrecorded: PublishRecord[] = [];
  for (const publish of input.published) {
    count('published');
    if (publish.confirmed) count('published-confirmed');
    if (truth.byPayload.has(keyOf(publish.pub, publish.seq))) continue;
    if (publish.confirmed) unrecorded.push(publish);
  }
  count('confirmed-but-never-recorded', unrecorded.length);
  unrecorded.sort((a, b) => a.at - b.at);
  // Not owed to anyone ("a message published while Redis is unreachable does not reach other nodes"), but worth seeing.
  const byTime: PublishRecord[][] = [];
  for (const publish of unrecorded) {
    const group = byTime[byTime.length - 1];
    const previous = group?.[group.length - 1];
    if (group && previous && publish.at - previous.at < 1_000) group.push(publish);
    else byTime.push([publish]);
  }
  for (const group of byTime.slice(0, 20)) {
    const first = group[0] as PublishRecord;
    const last = group[group.length - 1] as PublishRecord;
    notes.push(
      `${group.length} confirmed publish(es) never recorded in a stream, ${at(first.at)}–${at(last.at)} (${[...new Set(group.map((each) => each.node))].join(', ')}; ${faultsDuring(first.at - 500, last.at + 500)})`,
    );
  }
}
