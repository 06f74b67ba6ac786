'use strict';
// Peer 2 of the WebSocket benchmark: a Node.js broadcast server on the `ws` package,
// each frame encoded once and handed to `client.send` in a loop.
//
// It mirrors tests/benchmarks/ws/feeder/wsbench_feeder.py: the same message sequence,
// the same pacing and control files (cmd-<run>.json in, done-<run>.json out), and
// frames of the same shape as CryptoViz's.
//
//   node server.js --port 9102 --control DIR

const fs = require('fs');
const path = require('path');
const { WebSocketServer } = require('ws');

const PRICES = [60012.5, 60013.25, 60011.75, 60014.1];
const QUANTITIES = [0.0125, 0.5, 0.00342, 1.2];
const SYMBOL = 'BTCUSDT';
const POLL_MS = 5;

// Epoch microseconds: Date.now() has millisecond steps, so the monotonic clock is
// anchored on a millisecond edge of the wall clock once, at start.
const nowUs = (() => {
  const start = Date.now();
  let wall;
  while ((wall = Date.now()) === start);
  const offset = wall * 1000 - Number(process.hrtime.bigint() / 1000n);
  return () => offset + Number(process.hrtime.bigint() / 1000n);
})();

class Stamper {
  constructor() {
    this.last = 0;
  }

  take(n) {
    const base = Math.max(nowUs(), this.last + 1);
    this.last = base + n - 1;
    return base;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Trade times as the hub writes them: RFC 3339 UTC, always with milliseconds.
const rfc3339 = (ms) => new Date(ms).toISOString();

async function waitCommand(dir, run) {
  const file = path.join(dir, `cmd-${run}.json`);
  while (!fs.existsSync(file)) await sleep(POLL_MS);
  return { rate: 0, batch: 50, ...JSON.parse(fs.readFileSync(file, 'utf8')) };
}

function writeDone(dir, done) {
  const file = path.join(dir, `done-${done.run}.json`);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(done));
  fs.renameSync(`${file}.tmp`, file);
}

// Message i is due i / rate seconds after the start; late ones go out together.
async function feed(cmd, stamper, publish) {
  const start = performance.now() / 1000;
  let sent = 0;
  let first = 0;
  let last = 0;
  while (sent < cmd.count) {
    let n;
    if (cmd.rate > 0) {
      const elapsed = performance.now() / 1000 - start;
      const due = Math.min(cmd.count, Math.floor(elapsed * cmd.rate) + 1);
      if (due <= sent) {
        await sleep((sent / cmd.rate - elapsed) * 1000);
        continue;
      }
      n = Math.min(due - sent, cmd.batch);
    } else {
      n = Math.min(cmd.count - sent, cmd.batch);
    }
    const base = stamper.take(n);
    publish(sent, base, n);
    first = first || base;
    last = base + n - 1;
    sent += n;
    await new Promise(setImmediate);
  }
  return { run: cmd.run, published: sent, first_us: first, last_us: last };
}

function main() {
  const args = process.argv.slice(2);
  const option = (name) => args[args.indexOf(name) + 1];
  const port = Number(option('--port'));
  const control = option('--control');
  const clients = new Set();
  let seq = 0;

  const server = new WebSocketServer({ host: '127.0.0.1', port, backlog: 1024, clientTracking: false });
  server.on('connection', (ws) => {
    ws.on('message', (data) => {
      let request;
      try {
        request = JSON.parse(data);
      } catch {
        return;
      }
      if (request && request.action === 'subscribe') {
        const echo = { type: request.type, symbol: request.symbol, timeframe: null };
        ws.send(JSON.stringify({ type: 'subscribed', data: echo, timestamp: Date.now() }));
        clients.add(ws);
      }
    });
    ws.on('close', () => clients.delete(ws));
  });

  function publish(first, firstId, n) {
    for (let j = 0; j < n; j++) {
      const i = first + j;
      const id = firstId + j;
      seq += 1;
      const data = {
        symbol: SYMBOL,
        price: PRICES[i % 4],
        quantity: QUANTITIES[i % 4],
        side: i % 2 === 0 ? 'buy' : 'sell',
        time: rfc3339(Math.floor(id / 1000)),
        trade_id: id,
      };
      const frame = Buffer.from(JSON.stringify({ type: 'trade', data, timestamp: Date.now(), seq }));
      for (const client of clients) client.send(frame, { binary: false });
    }
  }

  (async () => {
    const stamper = new Stamper();
    for (let run = 1; ; run++) {
      const cmd = await waitCommand(control, run);
      writeDone(control, await feed(cmd, stamper, publish));
    }
  })();
}

main();
