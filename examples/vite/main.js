// The page's own socket to the app's ws service, beside Vite's HMR socket on the same port.
const log = document.querySelector('#log');
const chat = new WebSocket(`ws://${location.host}/chat`);
chat.addEventListener('message', (event) => {
  log.textContent += `${event.data}\n`;
});
chat.addEventListener('open', () => chat.send('hello from the page'));
