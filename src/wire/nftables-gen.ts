/**
 * The nf_tables ruleset generation (include/uapi/linux/netfilter/nf_tables.h):
 * NFT_MSG_GETGEN asks, NFT_MSG_NEWGEN answers with NFTA_GEN_ID, a counter the
 * kernel bumps on every committed nf_tables transaction in the namespace
 * (nf_tables_commit: ++nft_net->base_seq). Two equal ids mean no ruleset
 * changed in between, whoever committed — a check that needs no `nft list`.
 *
 *   nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_*, then struct nfgenmsg
 *   (AF_UNSPEC, NFNETLINK_V0, res_id: the generation's low 16 bits in answers),
 *   then NFTA_GEN_* attributes in network byte order.
 */
import { decodeAttributes, nlaString, nlaU32be } from './netlink-attribute.js';
import { NLM_F, type NetlinkMessage } from './netlink.js';
import { encodeNfgenmsg, NFGENMSG_LEN } from './nflog.js';
import { DecodeError } from '../errors.js';

/** #define NFNL_SUBSYS_NFTABLES 10 */
export const NFNL_SUBSYS_NFTABLES = 10;

/** enum nf_tables_msg_types (the two used here). */
export const NFT_MSG = {
  NEWGEN: 15, // NFT_MSG_NEWGEN
  GETGEN: 16, // NFT_MSG_GETGEN
} as const;

/** enum nft_gen_attributes */
export const NFTA_GEN = {
  ID: 1, // NFTA_GEN_ID (be32)
  PROC_PID: 2, // NFTA_GEN_PROC_PID (be32): who committed last
  PROC_NAME: 3, // NFTA_GEN_PROC_NAME (string)
} as const;

export const NFT_GETGEN_TYPE = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG.GETGEN; // 0x0a10
export const NFT_NEWGEN_TYPE = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG.NEWGEN; // 0x0a0f

export interface NftGeneration {
  readonly id: number;
  readonly pid?: number;
  readonly procName?: string;
}

/** Equivalent to what `nft` asks first: NFT_MSG_GETGEN with an all-zero nfgenmsg. */
export function getGenRequest(): { readonly type: number; readonly flags: number; readonly fixed: Uint8Array } {
  return { type: NFT_GETGEN_TYPE, flags: NLM_F.REQUEST, fixed: encodeNfgenmsg(0, 0) };
}

/** Decodes NFT_MSG_NEWGEN. */
export function decodeGen(msg: NetlinkMessage): NftGeneration {
  const what = 'NFT_MSG_NEWGEN';
  if (msg.type !== NFT_NEWGEN_TYPE) throw new DecodeError(what, `message type 0x${msg.type.toString(16)} is not NFT_MSG_NEWGEN`, 0);
  if (msg.payload.byteLength < NFGENMSG_LEN) throw new DecodeError(what, `${msg.payload.byteLength} bytes, shorter than nfgenmsg`, 0);
  let id: number | undefined;
  let pid: number | undefined;
  let procName: string | undefined;
  for (const a of decodeAttributes(msg.payload.subarray(NFGENMSG_LEN), what)) {
    if (a.type === NFTA_GEN.ID) id = nlaU32be(a, what);
    else if (a.type === NFTA_GEN.PROC_PID) pid = nlaU32be(a, what);
    else if (a.type === NFTA_GEN.PROC_NAME) procName = nlaString(a);
  }
  if (id === undefined) throw new DecodeError(what, 'no NFTA_GEN_ID', NFGENMSG_LEN);
  return { id, ...(pid !== undefined ? { pid } : {}), ...(procName !== undefined ? { procName } : {}) };
}
