// Sends COUNT UDP datagrams to HOST:PORT at RATE a second, paced on the
// clock (every millisecond tick sends what the schedule is owed, so timer
// jitter does not lower the average), then prints {"sent":N,"failed":F,"seconds":S} once every send has completed.
//   node udp-pacer.js HOST PORT RATE COUNT
import { createSocket } from 'node:dgram';

const [host, portText, rateText, countText] = process.argv.slice(2);
const port = Number(portText);
const rate = Number(rateText);
const count = Number(countText);
const sock = createSocket(host!.includes(':') ? 'udp6' : 'udp4');
const payload = Buffer.alloc(64, 0x61);
const t0 = process.hrtime.bigint();
let sent = 0;
let failed = 0;
let done = 0;
const finish = (): void => {
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  sock.close(() => process.stdout.write(`${JSON.stringify({ sent: sent - failed, failed, seconds })}\n`));
};
const timer = setInterval(() => {
  const owed = Math.min(count, Math.floor((Number(process.hrtime.bigint() - t0) / 1e9) * rate) + 1);
  while (sent < owed) {
    sock.send(payload, port, host, (err) => {
      if (err) failed++;
      if (++done === count) finish();
    });
    sent++;
  }
  if (sent >= count) clearInterval(timer);
}, 1);
