import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type Applicatie,
  AutorisatieRefused,
  createAutorisaties,
  levelsUpTo,
  type ObjectFacts,
  parseApplicatie,
  VERTROUWELIJKHEIDAANDUIDINGEN,
} from '@zgw-auth/verifier';

/**
 * The decision's rules on applicaties held in memory (the lookup a host passes): the same rules
 * are checked end to end against a real zgw-auth in test/autorisaties-decisions.test.ts; here the
 * cases that need no server, and the list filter agreeing with the decision on any applicatie.
 */
const ZT = (n: number) => `https://ztc.example/zaaktypen/${n}`;
const IOT = (n: number) => `https://ztc.example/informatieobjecttypen/${n}`;
const BT = (n: number) => `https://ztc.example/besluittypen/${n}`;

const decider = (applicaties: Record<string, Applicatie>) =>
  createAutorisaties({ applicaties: (clientId) => applicaties[clientId] });

describe('the decision on applicaties in memory', () => {
  const app = (autorisaties: Applicatie['autorisaties'], extra: Partial<Applicatie> = {}): Applicatie => ({
    clientIds: ['c'],
    heeftAlleAutorisaties: false,
    autorisaties,
    ...extra,
  });

  it('no scopes required is refused (never "nothing needed, so allowed"), also with all rights', async () => {
    const a = decider({ c: app([{ component: 'ztc', scopes: ['catalogi.lezen'] }]) });
    assert.deepEqual(await a.decide('c', { component: 'ztc', scopes: [] }), {
      allowed: false,
      reason: 'insufficient_scope',
    });
    const all = decider({ c: app([], { heeftAlleAutorisaties: true }) });
    assert.equal((await all.decide('c', { component: 'ztc', scopes: [] })).allowed, false);
  });

  it('a lookup that throws or rejects refuses as unavailable; decide never throws, check answers 503', async () => {
    const errors: unknown[] = [];
    for (const lookup of [
      () => {
        throw new Error('registry down');
      },
      () => Promise.reject(new Error('registry down')),
    ]) {
      const a = createAutorisaties({ applicaties: lookup, onError: (e) => errors.push(e) });
      assert.deepEqual(await a.decide('c', { component: 'ztc', scopes: ['catalogi.lezen'] }), {
        allowed: false,
        reason: 'unavailable',
      });
      await assert.rejects(
        a.check('c', { component: 'ztc', scopes: ['catalogi.lezen'] }),
        (err: unknown) => err instanceof AutorisatieRefused && err.status === 503,
      );
      await assert.rejects(
        a.visible('c', { component: 'zrc', scopes: ['zaken.lezen'] }),
        (err: unknown) => err instanceof AutorisatieRefused && err.reason === 'unavailable',
      );
    }
    assert.ok(errors.length >= 4, 'the failures were reported');
  });

  it('a lookup may answer with any thenable, not only a native promise', async () => {
    const applicatie = app([{ component: 'ztc', scopes: ['catalogi.lezen'] }]);
    const thenable = { then: (resolve: (a: Applicatie) => void) => resolve(applicatie) };
    const a = createAutorisaties({ applicaties: () => thenable as unknown as Promise<Applicatie> });
    assert.deepEqual(await a.decide('c', { component: 'ztc', scopes: ['catalogi.lezen'] }), { allowed: true });
  });

  it('a host lookup answering something that is no applicatie refuses, never throws', async () => {
    const odd = { clientIds: ['c'], heeftAlleAutorisaties: false, autorisaties: 7 } as unknown as Applicatie;
    const a = decider({ c: odd });
    assert.equal((await a.decide('c', { component: 'zrc', scopes: ['zaken.lezen'], object: 'any' })).allowed, false);
  });

  it('a component named like an Object property is a component like any other', async () => {
    const a = decider({ c: app([{ component: 'constructor', scopes: ['x'] }]) });
    assert.deepEqual(await a.decide('c', { component: 'constructor', scopes: ['x'] }), { allowed: true });
    assert.deepEqual(await a.decide('c', { component: 'toString', scopes: ['x'] }), {
      allowed: false,
      reason: 'insufficient_scope',
    });
  });

  it("an object that is neither 'any' nor an object's facts (null, '', false, a number) refuses a zrc, drc or brc request", async () => {
    // An `object` function such as `(req) => req.params.uuid && load(req.params.uuid)` answers '' for
    // an empty uuid: that must not read as "some object, not known yet".
    const a = decider({
      c: app([
        { component: 'zrc', scopes: ['zaken.lezen'], zaaktype: ZT(1), maxVertrouwelijkheidaanduiding: 'openbaar' },
      ]),
    });
    for (const object of [null, '', false, 0, 'ANY', 'all'])
      assert.deepEqual(
        await a.decide('c', { component: 'zrc', scopes: ['zaken.lezen'], object: object as never }),
        { allowed: false, reason: 'object_missing' },
        String(object),
      );
    assert.equal((await a.decide('c', { component: 'zrc', scopes: ['zaken.lezen'], object: 'any' })).allowed, true);
    const seen = await a.visible('c', { component: 'zrc', scopes: ['zaken.lezen'] });
    assert.equal(seen.allows(null as never), false);
  });

  it('a host applicatie of the wrong shape refuses: scopes as one string, a non-boolean alleenIsGereedVoorPublicatie', async () => {
    // A scope string (as OAuth2 writes scopes) must not be read letter by letter or as a substring.
    const spaced = app([{ component: 'ztc', scopes: 'catalogi.lezen.niet' as never }]);
    assert.deepEqual(await decider({ c: spaced }).decide('c', { component: 'ztc', scopes: ['catalogi.lezen'] }), {
      allowed: false,
      reason: 'unavailable',
    });
    // A truthy "true" or 1 from a host's database is no "false": it is refused, not taken as all documents.
    for (const odd of ['true', 1]) {
      const gereed = app([], { heeftAlleAutorisaties: true, alleenIsGereedVoorPublicatie: odd as never });
      const d = await decider({ c: gereed }).decide('c', {
        component: 'drc',
        scopes: ['documenten.lezen'],
        object: {
          informatieobjecttype: IOT(1),
          vertrouwelijkheidaanduiding: 'openbaar',
          isGereedVoorPublicatie: false,
        },
      });
      assert.equal(d.allowed, false, String(odd));
    }
    const allOdd = app([], { heeftAlleAutorisaties: 'false' as never });
    assert.equal(
      (await decider({ c: allOdd }).decide('c', { component: 'ztc', scopes: ['catalogi.lezen'] })).allowed,
      false,
    );
  });

  it('no caller: refused as an unknown client', async () => {
    const a = decider({ c: app([], { heeftAlleAutorisaties: true }) });
    for (const caller of ['', { clientId: '' }, undefined as unknown as string])
      assert.deepEqual(await a.decide(caller, { component: 'ztc', scopes: ['catalogi.lezen'] }), {
        allowed: false,
        reason: 'unknown_client',
      });
  });

  it('parseApplicatie reads the standard shape and refuses others', () => {
    const parsed = parseApplicatie({
      url: 'https://ac/applicaties/1',
      clientIds: ['c'],
      heeftAlleAutorisaties: false,
      autorisaties: [
        { component: 'zrc', scopes: ['zaken.lezen'], zaaktype: ZT(1), maxVertrouwelijkheidaanduiding: 'geheim' },
        { component: 'ztc', scopes: ['catalogi.lezen'], zaaktype: null, maxVertrouwelijkheidaanduiding: '' },
        { component: 'zrc', scopes: ['zaken.lezen'], zaaktype: ZT(2), maxVertrouwelijkheidaanduiding: 'topgeheim' },
      ],
    });
    assert.equal(parsed.autorisaties[0]!.maxVertrouwelijkheidaanduiding, 'geheim');
    assert.equal(parsed.autorisaties[1]!.zaaktype, undefined);
    // A level outside the eight is left out: that autorisatie reaches no object.
    assert.equal(parsed.autorisaties[2]!.maxVertrouwelijkheidaanduiding, undefined);
    assert.equal(parsed.alleenIsGereedVoorPublicatie, false);
    for (const bad of [
      null,
      [],
      'x',
      { clientIds: 'c', heeftAlleAutorisaties: false, autorisaties: [] },
      { clientIds: [1], heeftAlleAutorisaties: false, autorisaties: [] },
      { clientIds: ['c'], heeftAlleAutorisaties: 'true', autorisaties: [] },
      { clientIds: ['c'], heeftAlleAutorisaties: false, autorisaties: {} },
      { clientIds: ['c'], heeftAlleAutorisaties: false, autorisaties: [{ scopes: [] }] },
      { clientIds: ['c'], heeftAlleAutorisaties: false, autorisaties: [{ component: 'zrc', scopes: 'zaken.lezen' }] },
      { clientIds: ['c'], heeftAlleAutorisaties: false, autorisaties: [{ component: 'zrc', scopes: [], zaaktype: 1 }] },
      { clientIds: ['c'], heeftAlleAutorisaties: false, alleenIsGereedVoorPublicatie: 'ja', autorisaties: [] },
    ])
      assert.throws(() => parseApplicatie(bad), /not an applicatie/, JSON.stringify(bad));
  });

  it('scopes of several autorisaties of one zaaktype join up to the level they all reach, in the decision and the list', async () => {
    const a = decider({
      c: app([
        { component: 'zrc', scopes: ['zaken.lezen'], zaaktype: ZT(1), maxVertrouwelijkheidaanduiding: 'geheim' },
        { component: 'zrc', scopes: ['zaken.bijwerken'], zaaktype: ZT(1), maxVertrouwelijkheidaanduiding: 'intern' },
      ]),
    });
    const both = { component: 'zrc', scopes: ['zaken.lezen', 'zaken.bijwerken'] };
    const at = (vertrouwelijkheidaanduiding: string) => ({ zaaktype: ZT(1), vertrouwelijkheidaanduiding });
    assert.equal((await a.decide('c', { ...both, object: at('intern') })).allowed, true);
    assert.deepEqual(await a.decide('c', { ...both, object: at('zaakvertrouwelijk') }), {
      allowed: false,
      reason: 'too_confidential',
    });
    assert.deepEqual([...(await a.visible('c', both)).types], [[ZT(1), 'intern']]);
    assert.deepEqual(
      [...(await a.visible('c', { component: 'zrc', scopes: ['zaken.lezen'] })).types],
      [[ZT(1), 'geheim']],
    );
  });

  it('levelsUpTo lists the levels a query may include', () => {
    assert.deepEqual(levelsUpTo('openbaar'), ['openbaar']);
    assert.deepEqual(levelsUpTo('intern'), ['openbaar', 'beperkt_openbaar', 'intern']);
    assert.equal(levelsUpTo('zeer_geheim').length, 8);
  });

  it('the list filter agrees with the decision for every object, on any applicatie (property)', async () => {
    // Few scopes and types, so that autorisaties meet: the same type at several levels, scopes joined.
    const scope = fc.constantFrom('lezen', 'bijwerken', 'verwijderen');
    const level = fc.constantFrom(...VERTROUWELIJKHEIDAANDUIDINGEN, 'onbekend');
    const autorisatie = fc.record({
      component: fc.constantFrom('zrc', 'drc', 'brc', 'ztc'),
      scopes: fc.array(scope, { maxLength: 3 }),
      zaaktype: fc.option(fc.constantFrom(ZT(1), ZT(2)), { nil: undefined }),
      informatieobjecttype: fc.option(fc.constantFrom(IOT(1), IOT(2)), { nil: undefined }),
      besluittype: fc.option(fc.constantFrom(BT(1), BT(2)), { nil: undefined }),
      maxVertrouwelijkheidaanduiding: fc.option(level, { nil: undefined }),
    });
    const applicatie = fc.record({
      heeftAlleAutorisaties: fc.constantFrom(false, false, false, true),
      alleenIsGereedVoorPublicatie: fc.boolean(),
      autorisaties: fc.array(autorisatie, { maxLength: 8 }),
    });
    // Every object of a grid: each type (one no autorisatie names), each level and an unknown one.
    const grid: ObjectFacts[] = [];
    for (const n of [1, 2, 3])
      for (const vertrouwelijkheidaanduiding of [...VERTROUWELIJKHEIDAANDUIDINGEN, 'onbekend'])
        for (const isGereedVoorPublicatie of [true, false])
          grid.push({
            zaaktype: ZT(n),
            informatieobjecttype: IOT(n),
            besluittype: BT(n),
            vertrouwelijkheidaanduiding,
            isGereedVoorPublicatie,
          });
    await fc.assert(
      fc.asyncProperty(
        applicatie,
        fc.constantFrom('zrc', 'zrc', 'drc', 'brc', 'ztc'),
        fc.array(fc.oneof(scope, fc.array(scope, { minLength: 1, maxLength: 2 })), { minLength: 1, maxLength: 2 }),
        async (raw, component, scopes) => {
          const a = parseApplicatie({ ...raw, clientIds: ['c'] });
          const decisions = decider({ c: a });
          const seen = await decisions.visible('c', { component, scopes });
          for (const object of grid) {
            const d = await decisions.decide('c', { component, scopes, object });
            assert.equal(seen.allows(object), d.allowed);
            // What a query built from `types` would return is the same as the decision.
            const fields: Record<string, 'zaaktype' | 'informatieobjecttype' | 'besluittype'> = {
              zrc: 'zaaktype',
              drc: 'informatieobjecttype',
              brc: 'besluittype',
            };
            const field = fields[component];
            const type = field ? object[field] : undefined;
            const levelled = component === 'zrc' || component === 'drc';
            const max = type === undefined ? undefined : seen.types.get(type);
            const known = VERTROUWELIJKHEIDAANDUIDINGEN.includes(object.vertrouwelijkheidaanduiding as never);
            const byQuery =
              (!seen.onlyGereedVoorPublicatie || object.isGereedVoorPublicatie === true) &&
              (seen.all
                ? true
                : field === undefined
                  ? false
                  : type !== undefined &&
                    seen.types.has(type) &&
                    (!levelled || (known && levelsUpTo(max!).includes(object.vertrouwelijkheidaanduiding as never))));
            if (field !== undefined && !seen.all)
              assert.equal(byQuery, d.allowed, JSON.stringify({ a, object, seen: [...seen.types] }));
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});
