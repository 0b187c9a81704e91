/**
 * A very small power-cut campaign (a few seconds): the hardened policy
 * loses, resurrects and wedges nothing at any cut point, while the kernel
 * policy, on the same workload, does lose records — so the checks cannot
 * pass vacuously — and the losses the cut itself caused are explained by
 * the detach flush (W3) or the recovery's erase (W5).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCampaign, type CampaignResult } from './campaign.js';
import { GEOMETRIES } from './workload.js';

const SMALL = { seed: 2, boots: 6 };

function summary(r: CampaignResult): string {
  return `${r.geometry}/${r.policy}: cases ${r.cases}, lost ${r.lost}, resurrected ${r.resurrected}, wedged ${r.wedged}, unexpected ${r.unexpected.join(' | ')}, failing ${r.failing.join(' | ')}`;
}

test('hardened NAND: every cut point of a small mixed workload — nothing lost, resurrected or wedged', () => {
  const r = runCampaign({ geometry: GEOMETRIES.nand!, policy: 'hardened', ...SMALL });
  assert.ok(r.ops >= 8 && r.cases === 3 * r.ops, summary(r));
  assert.ok(r.checked > r.cases, 'records were actually checked after each cut');
  assert.deepEqual(r.unexpected, []);
  assert.equal(r.lost, 0, summary(r));
  assert.equal(r.resurrected, 0, summary(r));
  assert.equal(r.wedged, 0, summary(r));
  assert.equal(r.uncut.lost.length + r.uncut.resurrected.length + (r.uncut.wedged ? 1 : 0), 0);
  // The workload did reach the interesting operations.
  const kinds = Object.keys(r.opKinds);
  for (const k of ['write/dump', 'panicWrite/panic', 'erase/remove', 'write/remove']) assert.ok(kinds.includes(k), `${k} in ${kinds}`);
});

test('kernel NAND: the same workload loses and resurrects records; cut-induced losses are W3 / W5', () => {
  const r = runCampaign({ geometry: GEOMETRIES.nand!, policy: 'kernel', ...SMALL });
  assert.deepEqual(r.unexpected, []);
  assert.ok(r.lost > 0, summary(r));
  assert.ok(r.resurrected > 0, summary(r));
  assert.ok(r.cutInduced > 0, summary(r));
  for (const k of ['erase/detach', 'write/detach']) assert.ok(k in r.opKinds, `the kernel's detach flush ran: ${k}`);
  for (const cause of r.cutInducedCauses.keys()) assert.match(cause, /^W[0-9]/, `every cut-induced loss is explained by a weakness: ${cause}`);
  assert.ok([...r.cutInducedCauses.keys()].some((c) => c.startsWith('W3')), [...r.cutInducedCauses.keys()].join('; '));
  for (const cause of r.lossCauses.keys()) assert.doesNotMatch(cause, /unexplained/);
  for (const cause of r.resurrectionCauses.keys()) assert.match(cause, /^W[24]:/);
});

test('hardened NOR: every cut point of a small workload — nothing lost, resurrected or wedged', () => {
  const r = runCampaign({ geometry: GEOMETRIES.nor!, policy: 'hardened', seed: 2, boots: 4, shapes: ['torn'] });
  assert.deepEqual(r.unexpected, []);
  assert.ok(r.cases >= 8, summary(r));
  assert.equal(r.lost + r.resurrected + r.wedged, 0, summary(r));
});

test('one case reproduces alone (--k/--shape), with the same verdict as in the full sweep', () => {
  const seen: Array<{ k: number; lost: number[]; res: number[] }> = [];
  runCampaign({ geometry: GEOMETRIES.nand!, policy: 'kernel', ...SMALL, shapes: ['torn'], onCase: (c) => seen.push({ k: c.k, lost: c.verdict.lost.map((f) => f.i), res: c.verdict.resurrected.map((f) => f.i) }) });
  const bad = seen.find((c) => c.lost.length > 0)!;
  assert.ok(bad, 'some kernel case loses a record');
  let again: { lost: number[]; res: number[] } | undefined;
  const r = runCampaign({
    geometry: GEOMETRIES.nand!,
    policy: 'kernel',
    ...SMALL,
    only: { k: bad.k, shape: 'torn' },
    onCase: (c) => (again = { lost: c.verdict.lost.map((f) => f.i), res: c.verdict.resurrected.map((f) => f.i) }),
  });
  assert.equal(r.cases, 1);
  assert.deepEqual(again, { lost: bad.lost, res: bad.res });
});

// With 4 zones per erase block, a removal whose surviving neighbours cannot be moved yet (fewer than
// survivors + 1 free zones) used to be kept in RAM only, and a power cut brought the record back. The
// hardened policy now makes room first (erasing the oldest blocks, as the next dumps would), then moves.
test('hardened NAND, 4 zones per block: a removal stays removed across a power cut', () => {
  const r = runCampaign({ geometry: GEOMETRIES['nand-z32']!, policy: 'hardened', seed: 1, boots: 26, only: { k: 109, shape: 'none' } });
  assert.equal(r.cases, 1);
  assert.deepEqual(r.unexpected, []);
  assert.equal(r.lost + r.resurrected + r.wedged, 0, summary(r));
  assert.equal(r.deferredBack, 0, 'records whose remove() returned are listed again after the cut');
  assert.equal(r.uncut.deferredBack.length, 0, 'and after a clean power-off at the end of the workload');
});
