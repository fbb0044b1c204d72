// The syscall layer against the real kernel, on loopback UDP (no root needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as libc from '../../../src/sys/libc.js';
import { MsgBatch } from '../../../src/sys/mmsg.js';
import { AF, encodeSockaddrIn, decodeSockaddrIn } from '../../../src/wire/sockaddr.js';
import { SyscallError } from '../../../src/errors.js';

const LOOPBACK = Uint8Array.of(127, 0, 0, 1);

function udpSocket(): { fd: number; port: number } {
  const fd = libc.socket(AF.INET, libc.SOCK.DGRAM | libc.SOCK.NONBLOCK | libc.SOCK.CLOEXEC, 0);
  libc.bind(fd, encodeSockaddrIn(LOOPBACK, 0));
  const port = decodeSockaddrIn(libc.getsockname(fd)).port;
  return { fd, port };
}

test('a failing syscall throws SyscallError with the syscall and the errno name', () => {
  assert.throws(
    () => libc.socket(9999, libc.SOCK.DGRAM, 0),
    (err: unknown) => err instanceof SyscallError && err.syscall === 'socket' && err.errnoName === 'EAFNOSUPPORT',
  );
  assert.throws(
    () => libc.ifNameToIndex('no-such-if0'),
    (err: unknown) => err instanceof SyscallError && err.errnoName === 'ENODEV',
  );
});

test('recv on an empty non-blocking socket returns WOULD_BLOCK, not an error', () => {
  const { fd } = udpSocket();
  try {
    assert.equal(libc.recv(fd, new Uint8Array(64)), libc.WOULD_BLOCK);
  } finally {
    libc.close(fd);
  }
});

test('sendmmsg sends a batch that recvmmsg receives whole, with source addresses', () => {
  const rx = udpSocket();
  const tx = udpSocket();
  try {
    const out = new MsgBatch({ slots: 8, dataSize: 256, nameSize: 16 });
    const dst = encodeSockaddrIn(LOOPBACK, rx.port);
    for (let i = 0; i < 8; i++) {
      const payload = new TextEncoder().encode(`datagram ${i}`);
      if (i % 2 === 0) {
        out.slot(i).set(payload);
        out.setLength(i, payload.byteLength);
      } else {
        out.setData(i, payload); // zero-copy path
      }
      out.setName(i, dst);
    }
    assert.equal(out.send(tx.fd, 8), 8);

    const inb = new MsgBatch({ slots: 16, dataSize: 256, nameSize: 16 });
    assert.equal(libc.poll(rx.fd, libc.POLL.IN, 1000) & libc.POLL.IN, libc.POLL.IN);
    const n = inb.receive(rx.fd);
    assert.equal(n, 8);
    for (let i = 0; i < n; i++) {
      assert.equal(new TextDecoder().decode(inb.received(i)), `datagram ${i}`);
      const src = decodeSockaddrIn(inb.name(i).subarray(0, inb.nameLength(i)));
      assert.equal(src.port, tx.port);
    }
    assert.equal(inb.receive(rx.fd), 0, 'a drained socket yields 0, not an error');
  } finally {
    libc.close(rx.fd);
    libc.close(tx.fd);
  }
});

test('watchFd reports readability on the event loop', async () => {
  const rx = udpSocket();
  const tx = udpSocket();
  try {
    const got = new Promise<string>((resolve) => {
      const w = libc.watchFd(rx.fd, () => {
        const buf = new Uint8Array(64);
        const n = libc.recv(rx.fd, buf);
        if (n > 0) {
          w.close();
          resolve(new TextDecoder().decode(buf.subarray(0, n)));
        }
      });
    });
    libc.sendto(tx.fd, new TextEncoder().encode('ping'), encodeSockaddrIn(LOOPBACK, rx.port));
    assert.equal(await got, 'ping');
  } finally {
    libc.close(rx.fd);
    libc.close(tx.fd);
  }
});
