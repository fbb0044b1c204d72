import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pmtuExitCode, renderPmtuJson, renderPmtuText } from '../../../src/probe/pmtu-result.js';
import { chain } from './path-model.js';
import { drive } from './drive.js';

test('the text report of a black hole: table, too-big lines, MTU, verdict and one sentence', () => {
  const { result } = drive(chain(1500, [{ silent: true }, { mtu: 1400, tooBig: 'drop' }, {}]));
  assert.equal(
    renderPmtuText({ ...result, elapsedMs: 8000 }),
    [
      'probe pmtu 198.51.100.2: udp port 33434 from 192.0.2.100 via eth0 (mtu 1500)',
      '',
      '  hop  address                rtt       passed  note',
      '    1  *                      *         -',
      '    2  192.0.2.2              1.000 ms  1401    silence',
      '    3  192.0.2.3              1.000 ms  1400',
      '    4  198.51.100.2 (target)  1.000 ms  1400',
      '',
      'path MTU: 1400',
      'verdict:  black-hole at hop 2 (192.0.2.2)',
      'PMTUD black hole: hop 2 (192.0.2.2) does not pass packets larger than 1400 bytes and sends no too-big message that arrives here',
      `${result.probes} probes in 8.0 s`,
    ].join('\n'),
  );
  assert.equal(pmtuExitCode(result), 1);
  assert.equal(result.hopRange, undefined);
});

test('hops that never answer between the last hop the large probe reached and the first it did not: a range', () => {
  // hop 3 is silent; the narrow link is behind hop 2, but from here it could as well be behind hop 3
  const { result } = drive(chain(1500, [{}, { mtu: 1400, tooBig: 'drop' }, { silent: true }, {}]));
  assert.equal(result.verdict, 'black-hole');
  assert.deepEqual(result.hopRange, { first: 2, last: 3 });
  assert.deepEqual(result.hop, { ttl: 3 });
  assert.match(result.summary, /hop 3 does not answer, so the narrow link is behind one of hops 2\.\.3/);
});

test('the JSON of a working bottleneck: pmtu, verdict ok, no hop, the bottleneck noted ptb, every too-big placed', () => {
  const { result } = drive(chain(1500, [{}, { mtu: 1400 }, {}]));
  const j = JSON.parse(renderPmtuJson(result));
  assert.equal(j.pmtu, 1400);
  assert.equal(j.verdict, 'ok');
  assert.equal('hop' in j, false);
  assert.deepEqual(j.bottleneck, { ttl: 2, address: '192.0.2.2', note: 'ptb' });
  assert.deepEqual(j.hops.map((h: { ttl: number }) => h.ttl), [1, 2, 3, 4]);
  assert.ok(j.tooBig.length >= 1 && j.tooBig.every((t: { ttl: number; mtu: number }) => t.ttl === 2 && t.mtu === 1400));
  assert.equal(pmtuExitCode(result), 0);
  assert.match(renderPmtuText(result), /too-big from hop 2 \(192\.0\.2\.2\): mtu 1400 for 2 probes of 1401-1500 bytes\n/);
});

test('a useless too-big is shown with its reason and the hop noted ptb-bad', () => {
  const { result } = drive(chain(1500, [{ mtu: 1400, tooBig: 'mtu-zero' }, {}]));
  assert.equal(result.verdict, 'black-hole');
  assert.equal(result.hops[0]!.note, 'ptb-bad');
  assert.match(renderPmtuText(result), /mtu 0 for \d+ probes of 1401-1500 bytes, not usable: carries no MTU/);
  assert.match(result.summary, /sends too-big messages that cannot be used/);
});

test('unreachable: no path MTU, the last hop that answered, exit 1', () => {
  const path = { ...chain(1500, [{}, {}]), targetAnswers: false };
  const { result } = drive(path);
  assert.equal(result.verdict, 'unreachable');
  assert.equal(result.pmtu, undefined);
  assert.deepEqual(result.hop, { ttl: 2, address: '192.0.2.2' });
  assert.match(renderPmtuText(result), /path MTU: unknown\nverdict:  unreachable at hop 2 \(192\.0\.2\.2\)/);
  assert.equal(pmtuExitCode(result), 1);
});

test('no narrower link: the interface MTU, ok, no bottleneck; an incomplete run says so', () => {
  const { result } = drive(chain(9000, [{ mtu: 9000 }, { mtu: 9000 }]));
  assert.equal(result.pmtu, 9000);
  assert.equal(result.bottleneck, undefined);
  assert.match(result.summary, /as large as the interface allows/);
  const { result: cut } = drive(chain(1500, [{}]));
  assert.match(renderPmtuText({ ...cut, summary: `${cut.summary} (incomplete: stopped)` }), /incomplete/);
});

test('repeated too-big messages from one hop are one line with the sizes they answered', () => {
  const { result } = drive(chain(1500, [{}, { mtu: 1400, tooBig: 'mtu-too-large' }, {}]));
  const lines = renderPmtuText(result).split('\n').filter((l) => l.includes('too-big from'));
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^  too-big from hop 2 \(192\.0\.2\.2\): mtu 1401-1500 for \d+ probes of 1401-1500 bytes, not usable: MTU is not smaller than the probe$/);
});

test('a too-big message never lends its sender\'s address to the silent hop whose TTL the probe carried', () => {
  // hop 3 answers nothing; the large probe sent with TTL 3 gets hop 2's too-big
  const { result } = drive(chain(1500, [{}, { mtu: 1400 }, { silent: true }, {}]));
  assert.equal(result.hops[2]!.address, undefined);
  assert.equal(result.hops[1]!.address, '192.0.2.2');
  assert.equal(result.hops[1]!.note, 'ptb');
  assert.ok(result.tooBig.every((t) => t.ttl === 2));
  // and the too-big names the hop in front of the narrow link even though hop 3 leaves a gap
  assert.deepEqual(result.bottleneck, { ttl: 2, address: '192.0.2.2', note: 'ptb' });
  assert.equal(result.hopRange, undefined);
});
