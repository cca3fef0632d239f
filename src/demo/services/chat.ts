import { EventEmitter } from 'node:events';
import type { Switchboard } from '../../switchboard.js';
import { demoAuthenticate } from '../identity.js';

export interface ChatMessage {
  from: string;
  text: string;
  at: string;
}

/** A `ws` chat on `/chat`: every message goes to everyone in it, and to whoever listens to `messages`. */
export function mountChat(hub: Switchboard): { messages: EventEmitter<{ message: [ChatMessage] }> } {
  const messages = new EventEmitter<{ message: [ChatMessage] }>();
  const chat = hub.ws('/chat', { maxPayload: 16 * 1024 }, { authenticate: demoAuthenticate });
  chat.on('connection', (ws) => {
    const from = (ws.principal as { userId: string }).userId;
    ws.send(JSON.stringify({ event: 'welcome', data: { you: from, online: chat.clients.size } }));
    ws.on('message', (data) => {
      const text = String(data).slice(0, 500).trim();
      if (!text) return;
      const message: ChatMessage = { from, text, at: new Date().toISOString() };
      const frame = JSON.stringify({ event: 'message', data: message });
      for (const client of chat.clients) client.send(frame);
      messages.emit('message', message);
    });
  });
  return { messages };
}
