// The front door of the TypeScript e2e walk under Prism (sdk/run.sh): REST
// requests go through Prism's validation proxy, and the two kinds Prism
// cannot carry go straight to the server:
//   - WebSocket upgrades (the hub; Prism proxies HTTP only);
//   - streamed replies (Server-Sent Events: `Accept: text/event-stream` or a
//     JSON body with "stream": true). Prism reads the whole upstream body and
//     validates it as one JSON document, so it would both hold the events
//     back until the end and report the event stream as "not an object";
//   - audio (binary uploads, and the operations that answer with audio):
//     Prism handles bodies as text, so bytes that are not UTF-8 come out
//     as replacement characters and a WAV file is no longer one.
// usage: node prism-front.mjs <listen port> <prism url> <server url>
import http from 'node:http';
import net from 'node:net';

const [port, prismUrl, serverUrl] = process.argv.slice(2);
const prism = new URL(prismUrl);
const server = new URL(serverUrl);
let direct = 0;
let validated = 0;

// The operations whose answer is audio (openapi.yaml: audio/* responses).
const audioAnswers = [/^\/api\/ai\/text-to-speech\/(\?|$)/, /^\/api\/ai\/voice-chat\/audio\/[^/]+\/(\?|$)/];

function binary(req, body) {
  if (audioAnswers.some((re) => re.test(req.url ?? ''))) return true;
  const type = String(req.headers['content-type'] ?? '');
  return body.length > 0 && (type.startsWith('application/octet-stream') || type.startsWith('multipart/') || type.startsWith('audio/'));
}

function streamed(req, body) {
  if (String(req.headers.accept ?? '').includes('text/event-stream')) return true;
  if (!String(req.headers['content-type'] ?? '').includes('application/json')) return false;
  try {
    return JSON.parse(body.toString('utf8'))?.stream === true;
  } catch {
    return false; // not JSON: Prism and the server judge it
  }
}

const front = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const bypass = streamed(req, body) || binary(req, body);
    const to = bypass ? server : prism;
    if (bypass) direct++;
    else validated++;
    const up = http.request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: { ...req.headers, host: to.host } },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', (e) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`prism-front: ${to.host}: ${e.message}\n`);
    });
    up.end(body);
  });
});

// WebSocket upgrades: a raw TCP pipe to the server, request head replayed.
front.on('upgrade', (req, socket, head) => {
  direct++;
  const up = net.connect(Number(server.port), server.hostname, () => {
    const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    up.write(lines.join('\r\n') + '\r\n\r\n');
    if (head.length) up.write(head);
    up.pipe(socket);
    socket.pipe(up);
  });
  const end = () => {
    up.destroy();
    socket.destroy();
  };
  up.on('error', end);
  socket.on('error', end);
  up.on('close', end);
  socket.on('close', end);
});

front.listen(Number(port), '127.0.0.1', () => console.log(`prism-front listening on 127.0.0.1:${port}`));
process.on('SIGTERM', () => {
  console.log(`prism-front: ${validated} requests through Prism, ${direct} direct (streams, WebSockets, audio)`);
  process.exit(0);
});
