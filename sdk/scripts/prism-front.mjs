// The front door of the TypeScript e2e walk under Prism (sdk/run.sh): REST
// requests go through Prism's validation proxy, and the two kinds Prism
// cannot carry go straight to the server:
//   - WebSocket upgrades (the hub; Prism proxies HTTP only);
//   - streamed replies (Server-Sent Events: `Accept: text/event-stream` or a
//     JSON body with "stream": true). Prism reads the whole upstream body and
//     validates it as one JSON document, so it would both hold the events
//     back until the end and report the event stream as "not an object".
// usage: node prism-front.mjs <listen port> <prism url> <server url>
import http from 'node:http';
import net from 'node:net';

const [port, prismUrl, serverUrl] = process.argv.slice(2);
const prism = new URL(prismUrl);
const server = new URL(serverUrl);
let direct = 0;
let validated = 0;

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
    const bypass = streamed(req, body);
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
  console.log(`prism-front: ${validated} requests through Prism, ${direct} direct (streams, WebSockets)`);
  process.exit(0);
});
