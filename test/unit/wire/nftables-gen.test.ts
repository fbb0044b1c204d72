// NFT_MSG_GETGEN / NEWGEN against what nft sends and the kernel answers.
// Captured on Linux 6.18 with nftables 1.0.6 in an empty namespace:
//   strace -e trace=sendmsg,sendto,recvmsg -e write=3 -e read=3 -s 4096 -xx nft list tables
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeGen, getGenRequest, NFT_GETGEN_TYPE } from '../../../src/wire/nftables-gen.js';
import { decodeMessages, encodeMessage } from '../../../src/wire/netlink.js';
import { DecodeError } from '../../../src/errors.js';
import { atOffset, hex } from '../../harness/bytes.js';

const GETGEN = hex(`
  14000000 100a 0100 00000000 00000000   // nlmsghdr: len 20, NFNL_SUBSYS_NFTABLES<<8|NFT_MSG_GETGEN, NLM_F_REQUEST, seq 0, pid 0
  00 00 0000                             // nfgenmsg: AF_UNSPEC, NFNETLINK_V0, res_id 0
`);

const NEWGEN = hex(`
  2c000000 0f0a 0000 00000000 7d580000   // nlmsghdr: len 44, NFNL_SUBSYS_NFTABLES<<8|NFT_MSG_NEWGEN, seq 0, pid 22653
  00 00 0001                             // nfgenmsg: AF_UNSPEC, NFNETLINK_V0, res_id 1 (big-endian)
  08000100 00000001                      // NFTA_GEN_ID 1 (be32)
  08000200 0000587d                      // NFTA_GEN_PROC_PID 22653 (be32)
  08000300 6e667400                      // NFTA_GEN_PROC_NAME "nft"
`);

test('GETGEN: the bytes nft sends', () => {
  const r = getGenRequest();
  assert.equal(r.type, NFT_GETGEN_TYPE);
  assert.deepEqual(encodeMessage({ type: r.type, flags: r.flags, seq: 0, pid: 0 }, r.fixed), GETGEN);
});

test('NEWGEN: the generation id, the committing process, also at an offset', () => {
  for (const bytes of [NEWGEN, atOffset(NEWGEN)]) {
    const [m] = decodeMessages(bytes);
    assert.deepEqual(decodeGen(m!), { id: 1, pid: 22653, procName: 'nft' });
  }
});

test('NEWGEN without an id, too short, or of another type: DecodeError', () => {
  const [m] = decodeMessages(NEWGEN);
  assert.throws(() => decodeGen({ ...m!, payload: m!.payload.subarray(0, 4) }), DecodeError);
  assert.throws(() => decodeGen({ ...m!, payload: m!.payload.subarray(0, 2) }), DecodeError);
  assert.throws(() => decodeGen({ ...m!, type: 0x0a10 }), DecodeError);
  assert.throws(() => decodeGen({ ...m!, payload: Uint8Array.of(0, 0, 0, 1, 8, 0, 1, 0, 0, 0) }), DecodeError);
});
