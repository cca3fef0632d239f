import { useEffect, useState } from 'react';

// The page and its socket share the path /chat: GET /chat is this page, an upgrade on /chat is the app's ws service.
export default function Chat() {
  const [lines, setLines] = useState([]);
  useEffect(() => {
    const ws = new WebSocket(`ws://${location.host}/chat`);
    ws.onmessage = (event) => setLines((previous) => [...previous, event.data]);
    ws.onopen = () => ws.send('hello from the page');
    return () => ws.close();
  }, []);
  return (
    <>
      <h1>Chat</h1>
      <pre>{lines.join('\n')}</pre>
    </>
  );
}
