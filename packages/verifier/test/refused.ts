import assert from 'node:assert/strict';
import { TokenError, type Verifier } from '@zgw-auth/verifier';

/** Asserts that the verifier refuses the token with this code (and, when given, this authenticity). */
export async function refused(
  verifier: Verifier,
  token: string,
  code: string,
  authenticated?: boolean,
): Promise<TokenError> {
  let caught: unknown;
  await verifier.verify(token).then(
    (p) => assert.fail(`accepted: ${JSON.stringify(p)}`),
    (err: unknown) => (caught = err),
  );
  assert.ok(caught instanceof TokenError, String(caught));
  assert.equal(caught.code, code, caught.message);
  if (authenticated !== undefined) assert.equal(caught.authenticated, authenticated, `authenticated for ${code}`);
  return caught;
}
