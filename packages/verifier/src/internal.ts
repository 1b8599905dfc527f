// The JOSE core and cache that zgw-auth's server shares with this library. Exported for that
// server only: no compatibility promise, may change in any release.
export {
  ASYMMETRIC_ALGS,
  type AsymmetricAlg,
  base64urlJson,
  type EncodedHeader,
  hs256,
  hs256MatchesAny,
  isAsymmetricAlg,
  type JoseHeader,
  JWS_ALGS,
  type JwsAlg,
  type JwsPayload,
  jwsSigningInput,
  keyFitsAlg,
  signJws,
  signJwsAsync,
  type SigningKeyInput,
  verifyJwsSignature,
} from './jose.js';
export { BoundedCache } from './bounded-cache.js';
export { importJwks } from './keys.js';
export { importedKeyCount } from './dpop.js';
export { sameText, sha256Base64url } from './digest.js';
