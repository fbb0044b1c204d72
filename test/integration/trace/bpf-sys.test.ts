// The bpf(2) wrappers against the real kernel: a refused program raises a
// VerifierError carrying the verifier's log; map create, update, lookup,
// next-key and delete round-trip; a program and a map are gone once their
// last descriptor is closed (BPF_*_GET_FD_BY_ID answers ENOENT).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BPF_MAP_TYPE, BPF_PROG_TYPE, VerifierError, mapCreate, mapDelete, mapLookup, mapNextKey, mapUpdate, objExists, objId, objIds, progLoad } from '../../../src/sys/bpf.js';
import { close } from '../../../src/sys/libc.js';
import { R, assemble, exit, ldx, movImm } from '../../../src/wire/bpf-insn.js';
import { labUnavailable } from '../../harness/netns.js';

const skip = labUnavailable();

test('a program the verifier refuses: VerifierError with its log', { skip }, () => {
  // r0 = r2 (never set: raw tracepoint programs get only r1), then exit
  const insns = assemble([ldx('DW', R.R0, R.R2, 0), exit()]);
  assert.throws(
    () => progLoad({ type: BPF_PROG_TYPE.RAW_TRACEPOINT, insns, license: 'GPL', name: 'pg_test_bad' }),
    (e: unknown) => {
      assert.ok(e instanceof VerifierError, String(e));
      assert.equal(e.errnoName, 'EACCES');
      assert.match(e.log, /R2 !read_ok/);
      assert.match(e.message, /the verifier refused program pg_test_bad/);
      return true;
    },
  );
});

test('maps round-trip; objects disappear with their last descriptor', { skip }, () => {
  const fd = mapCreate({ type: BPF_MAP_TYPE.HASH, keySize: 4, valueSize: 8, maxEntries: 4, name: 'pg_test_map' });
  const id = objId(fd);
  try {
    assert.ok(objIds('map').includes(id));
    const key = Uint8Array.of(1, 0, 0, 0);
    const value = Uint8Array.of(9, 8, 7, 6, 5, 4, 3, 2);
    mapUpdate(fd, key, value);
    const got = new Uint8Array(8);
    assert.equal(mapLookup(fd, key, got), true);
    assert.deepEqual(got, value);
    const next = new Uint8Array(4);
    assert.equal(mapNextKey(fd, null, next), true);
    assert.deepEqual(next, key);
    assert.equal(mapNextKey(fd, key, next), false);
    assert.equal(mapDelete(fd, key), true);
    assert.equal(mapDelete(fd, key), false);
    assert.equal(mapLookup(fd, key, got), false);
  } finally {
    close(fd);
  }
  const prog = progLoad({ type: BPF_PROG_TYPE.RAW_TRACEPOINT, insns: assemble([movImm(R.R0, 0), exit()]), license: 'GPL', name: 'pg_test_ok' });
  const progId = objId(prog);
  assert.equal(objExists('prog', progId, close), true);
  close(prog);
  // the kernel frees programs and maps after an RCU grace period: poll briefly
  const deadline = Date.now() + 5000;
  while ((objExists('prog', progId, close) || objExists('map', id, close)) && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  assert.equal(objExists('prog', progId, close), false);
  assert.equal(objExists('map', id, close), false);
});
