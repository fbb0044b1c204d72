import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConfigError } from '../../../src/errors.js';
import {
  StaticPeers,
  notifyAll,
  parsePeerList,
  formatPeerList,
  peerElements,
  samePeers,
  type Peer,
  type PeerSource,
} from '../../../src/peers/peer-set.js';

const addrs = (ps: readonly Peer[]) => ps.map((p) => p.addresses.map((a) => a.address).join('+'));

test('--peers: canonical form, duplicates removed (also across spellings), IPv4 before IPv6, sorted by bytes', () => {
  const ps = parsePeerList(' 2001:DB8:0:0::10 ,198.51.100.7,192.0.2.10,, 192.0.2.9,2001:db8::10,::ffff:192.0.2.9,2001:db8::2 ');
  assert.deepEqual(addrs(ps), ['192.0.2.9', '192.0.2.10', '198.51.100.7', '2001:db8::2', '2001:db8::10']);
  assert.deepEqual(
    ps.map((p) => [p.addresses[0]!.family, [...p.addresses[0]!.bytes]]),
    [
      [4, [192, 0, 2, 9]],
      [4, [192, 0, 2, 10]],
      [4, [198, 51, 100, 7]],
      [6, [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]],
      [6, [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10]],
    ],
  );
  assert.equal(ps[0]!.name, undefined);
  assert.equal(ps[0]!.id, '192.0.2.9', 'without a name, a peer is known by its first address');
});

test('an empty list is no peers', () => {
  assert.deepEqual(parsePeerList(''), []);
  assert.deepEqual(parsePeerList([]), []);
});

test('every bad entry is reported at once, with the field index and why', () => {
  try {
    parsePeerList('192.0.2.1,node-a,192.0.2.0/24,0x7f.1,fe80::1%eth0,fe80::1,0.0.0.0,224.0.0.1,127.0.0.1,::1,255.255.255.255,192.000.2.1', '--peers');
    assert.fail('expected ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(
      err.problems.map((p) => [p.field, p.value]),
      [
        ['--peers[1]', 'node-a'],
        ['--peers[2]', '192.0.2.0/24'],
        ['--peers[3]', '0x7f.1'],
        ['--peers[4]', 'fe80::1%eth0'],
        ['--peers[5]', 'fe80::1'],
        ['--peers[6]', '0.0.0.0'],
        ['--peers[7]', '224.0.0.1'],
        ['--peers[8]', '127.0.0.1'],
        ['--peers[9]', '::1'],
        ['--peers[10]', '255.255.255.255'],
        ['--peers[11]', '192.000.2.1'],
      ],
    );
    assert.match(err.problems[1]!.expected, /not a prefix/);
    assert.match(err.problems[6]!.expected, /multicast/);
  }
});

test('the node drops itself: excludeLocal filters its own addresses (text or bytes, any spelling)', () => {
  const peers = StaticPeers.fromList('192.0.2.1,192.0.2.2,2001:db8::1,2001:db8::2');
  const seen: string[][] = [];
  peers.subscribe((ps) => seen.push(addrs(ps)));
  peers.excludeLocal([Uint8Array.of(192, 0, 2, 1), '2001:DB8::1', 'fe80::1%eth0']);
  assert.deepEqual(addrs(peers.current()), ['192.0.2.2', '2001:db8::2']);
  assert.deepEqual(seen, [['192.0.2.2', '2001:db8::2']]);
});

test('listeners hear only real changes', () => {
  const peers = StaticPeers.fromList('192.0.2.1,192.0.2.2');
  let calls = 0;
  const unsubscribe = peers.subscribe(() => calls++);
  peers.excludeLocal(['203.0.113.1']); // not a peer: nothing changes
  assert.equal(calls, 0);
  peers.excludeLocal(['192.0.2.1']);
  assert.equal(calls, 1);
  peers.excludeLocal(['::ffff:192.0.2.1', '203.0.113.1']); // same effective set
  assert.equal(calls, 1);
  peers.excludeLocal([]); // the address went away: the peer is back
  assert.equal(calls, 2);
  assert.deepEqual(addrs(peers.current()), ['192.0.2.1', '192.0.2.2']);
  unsubscribe();
  peers.excludeLocal(['192.0.2.2']);
  assert.equal(calls, 2);
});

test('a local address that is not an address is a ConfigError naming it', () => {
  const peers = StaticPeers.fromList('192.0.2.1');
  assert.throws(() => peers.excludeLocal(['192.0.2.1', 'nonsense']), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.problems[0]!.field, 'localAddrs[1]');
    return true;
  });
  assert.throws(() => peers.excludeLocal([new Uint8Array(5)]), ConfigError);
});

test('a throwing listener does not keep the others from the new set, and its error surfaces', () => {
  const peers = StaticPeers.fromList('192.0.2.1,192.0.2.2');
  const got: number[] = [];
  peers.subscribe(() => {
    throw new Error('listener one broke');
  });
  peers.subscribe((ps) => got.push(ps.length));
  assert.throws(() => peers.excludeLocal(['192.0.2.1']), /listener one broke/);
  assert.deepEqual(got, [1]);
  assert.throws(
    () =>
      notifyAll(
        [
          () => {
            throw new Error('a');
          },
          () => {
            throw new Error('b');
          },
        ],
        [],
      ),
    (err: unknown) => err instanceof AggregateError && err.errors.length === 2,
  );
});

test('the current set is frozen: consumers cannot edit what others see', () => {
  const peers = StaticPeers.fromList('192.0.2.1');
  assert.ok(Object.isFrozen(peers.current()));
});

test('StaticPeers is a PeerSource (the seam Kubernetes discovery will implement)', () => {
  const source: PeerSource = StaticPeers.fromList('192.0.2.1');
  assert.equal(source.current().length, 1);
});

test('peerElements lists every address of every peer by family, and the MACs given once', () => {
  const peers = parsePeerList('192.0.2.1+2001:db8::1,2001:db8::2');
  assert.deepEqual(peerElements(peers, ['02:00:5e:00:53:02', '02:00:5e:00:53:01', '02:00:5e:00:53:01']), {
    v4: ['192.0.2.1'],
    v6: ['2001:db8::1', '2001:db8::2'],
    mac: ['02:00:5e:00:53:01', '02:00:5e:00:53:02'],
  });
  assert.deepEqual(peerElements(peers).mac, []);
});

test('a node listed by two addresses (a+b) is one peer with both, in canonical order', () => {
  const ps = parsePeerList('2001:DB8::11+192.0.2.11, 192.0.2.12 ,2001:db8::13+2001:db8::14');
  assert.deepEqual(addrs(ps), ['192.0.2.11+2001:db8::11', '192.0.2.12', '2001:db8::13+2001:db8::14']);
  assert.equal(ps.length, 3, 'one peer per node');
  assert.equal(ps[0]!.id, '192.0.2.11');
  assert.deepEqual(addrs(parsePeerList(formatPeerList(ps))), addrs(ps), 'formatPeerList round-trips');
  // The same through a YAML sequence, where an item may itself be a list of one node's addresses.
  assert.deepEqual(addrs(parsePeerList([['192.0.2.11', '2001:db8::11'], '192.0.2.12'])), ['192.0.2.11+2001:db8::11', '192.0.2.12']);
  // An address repeated inside one entry counts once; the same node written twice is one peer.
  assert.deepEqual(addrs(parsePeerList('192.0.2.11+192.0.2.11,192.0.2.11')), ['192.0.2.11']);
});

test('an address given for two nodes, or a bad half of a pair, is an error naming the entry', () => {
  assert.throws(() => parsePeerList('192.0.2.11+2001:db8::11,192.0.2.12+2001:db8::11', '--peers'), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.problems.map((p) => [p.field, p.value]), [['--peers[1]', '2001:db8::11']]);
    assert.match(err.problems[0]!.expected, /one node only/);
    return true;
  });
  assert.throws(() => parsePeerList('192.0.2.11+::1,192.0.2.12+', '--peers'), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.problems.map((p) => [p.field, p.value]), [['--peers[0]', '::1'], ['--peers[1]', '']]);
    assert.match(err.problems[0]!.expected, /loopback/);
    return true;
  });
  assert.throws(() => parsePeerList('192.0.2.0/24+2001:db8::/64'), /not a prefix/);
});

test('a node any of whose addresses is local is this node: excludeLocal drops all of it', () => {
  const peers = StaticPeers.fromList('192.0.2.11+2001:db8::11,192.0.2.12+2001:db8::12');
  peers.excludeLocal(['2001:db8::11']);
  assert.deepEqual(addrs(peers.current()), ['192.0.2.12+2001:db8::12']);
});

test('property: parsing is idempotent on canonical output and order-independent', () => {
  const v4 = fc.tuple(fc.constantFrom(192, 198, 203), fc.nat(255)).map(([a, d]) =>
    a === 192 ? `192.0.2.${d}` : a === 198 ? `198.51.100.${d}` : `203.0.113.${d}`,
  );
  const v6 = fc.tuple(fc.nat(0xffff), fc.nat(0xffff)).map(([x, y]) => `2001:db8:${x.toString(16)}::${y.toString(16)}`);
  fc.assert(
    fc.property(fc.array(fc.oneof(v4, v6), { maxLength: 12 }), (list) => {
      const ps = parsePeerList(list.join(','));
      assert.deepEqual(addrs(parsePeerList(formatPeerList(ps))), addrs(ps));
      assert.ok(samePeers(parsePeerList([...list].reverse()), ps));
      assert.equal(new Set(addrs(ps)).size, ps.length);
    }),
    { numRuns: 200 },
  );
});
