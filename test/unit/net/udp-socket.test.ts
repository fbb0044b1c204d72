// UdpSocket and the shared sendmmsg loop on loopback (no root, no traffic
// beyond 127.0.0.1): batches go out in order, and a slot the kernel refuses
// (EMSGSIZE) or that is refused before sending (EAFNOSUPPORT) is reported
// alone, whether it fails first in a call or in the middle of a run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UdpSocket } from '../../../src/net/udp-socket.js';
import { poll, POLL } from '../../../src/sys/libc.js';

const te = new TextEncoder();
const td = new TextDecoder();

function drain(rx: UdpSocket, n: number): { text: string; port: number }[] {
  const got: { text: string; port: number }[] = [];
  while (got.length < n) {
    if ((poll(rx.fd, POLL.IN, 1000) & POLL.IN) === 0) break;
    const b = rx.receiveBatch();
    for (let i = 0; i < b.count; i++) got.push({ text: td.decode(b.data(i)), port: b.source(i).port });
  }
  return got;
}

test('sendMany sends a batch in order and receiveBatch returns it with the source', () => {
  const rx = UdpSocket.open({ family: 4, address: '127.0.0.1' });
  const tx = UdpSocket.open({ family: 4, address: '127.0.0.1', batch: 4 });
  try {
    const to = UdpSocket.sockaddr('127.0.0.1', rx.port);
    const r = tx.sendMany(['a', 'b', 'c', 'd'].map((t) => ({ data: te.encode(t), to })));
    assert.deepEqual([r.count, r.sent, r.failed], [4, 4, 0]);
    assert.deepEqual(drain(rx, 4), ['a', 'b', 'c', 'd'].map((text) => ({ text, port: tx.port })));
    assert.equal(rx.receiveBatch().count, 0, 'a drained socket yields an empty batch');
  } finally {
    rx.close();
    tx.close();
  }
});

test('a refused slot is reported alone and the rest of the batch is sent', () => {
  const rx = UdpSocket.open({ family: 4, address: '127.0.0.1' });
  const tx = UdpSocket.open({ family: 4, address: '127.0.0.1', batch: 8 });
  try {
    const to = UdpSocket.sockaddr('127.0.0.1', rx.port);
    const v6 = UdpSocket.sockaddr('::1', rx.port);
    const huge = new Uint8Array(65528); // over udp_sendmsg's 65535 - 8 limit: EMSGSIZE before any route lookup
    const r = tx.sendMany([
      { data: huge, to },
      { data: te.encode('one'), to },
      { data: huge, to },
      { data: te.encode('two'), to },
      { data: te.encode('x'), to: v6 },
      { data: te.encode('three'), to },
      { data: huge, to },
    ]);
    assert.deepEqual([r.count, r.sent, r.failed], [7, 3, 4]);
    assert.deepEqual(
      Array.from({ length: 7 }, (_, i) => r.errnoName(i)),
      ['EMSGSIZE', undefined, 'EMSGSIZE', undefined, 'EAFNOSUPPORT', undefined, 'EMSGSIZE'],
    );
    assert.deepEqual(
      drain(rx, 3).map((g) => g.text),
      ['one', 'two', 'three'],
    );
    // The report is reused: the next send overwrites it.
    const r2 = tx.sendToEach(te.encode('again'), [to]);
    assert.equal(r2, r);
    assert.deepEqual([r2.count, r2.sent], [1, 1]);
    assert.throws(() => r2.errno(1), RangeError);
    assert.equal(drain(rx, 1)[0]?.text, 'again');
  } finally {
    rx.close();
    tx.close();
  }
});

test('more datagrams than the batch size is a RangeError; a datagram longer than maxDatagram is truncated and flagged', () => {
  const rx = UdpSocket.open({ family: 6, address: '::1', maxDatagram: 4 });
  const tx = UdpSocket.open({ family: 6, address: '::1', batch: 2 });
  try {
    const to = UdpSocket.sockaddr('::1', rx.port);
    assert.throws(() => tx.sendToEach(te.encode('x'), [to, to, to]), RangeError);
    assert.equal(tx.sendToEach(te.encode('abcdefgh'), [to]).sent, 1);
    assert.equal(poll(rx.fd, POLL.IN, 1000) & POLL.IN, POLL.IN);
    const b = rx.receiveBatch();
    assert.equal(b.count, 1);
    assert.equal(td.decode(b.data(0)), 'abcd');
    assert.equal(b.truncated(0), true);
    assert.equal(b.source(0).family, 6);
    assert.throws(() => b.data(1), RangeError);
  } finally {
    rx.close();
    tx.close();
  }
});
