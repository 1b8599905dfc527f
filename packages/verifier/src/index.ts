export { type Principal, type ClientRecord, type ClientResolver, type Verifier, type VerifierOptions, createVerifier, SELF_SIGNED_CLAIMS } from './verifier.js';
export { TokenError, type TokenErrorCode } from './errors.js';
export { decodeJwt, extractToken, MAX_TOKEN_LENGTH, type DecodedJwt } from './decode.js';
export { importJwks, RemoteJwks, type KeySource, type VerificationKey } from './keys.js';
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
export { basicCredentials, introspect, cachedResolver, type IntrospectionOptions, type IntrospectionResult } from './introspection.js';
export { authorize, refusal, requireToken, zgwAuthFastify, type GuardOptions, type Refusal } from './adapters.js';
export { BoundedCache } from './bounded-cache.js';
