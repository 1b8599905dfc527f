// The public API: what a ZGW API needs to accept tokens. Token minting for tests lives in
// `@zgw-auth/verifier/testing`; the JOSE primitives zgw-auth's own server shares live in
// `@zgw-auth/verifier/internal`, which carries no compatibility promise.
export {
  type Principal,
  type ClientRecord,
  type ClientResolver,
  type Verifier,
  type VerifierOptions,
  type VerifyOptions,
  createVerifier,
  SELF_SIGNED_CLAIMS,
} from './verifier.js';
export { TokenError, type TokenErrorCode } from './errors.js';
export { decodeJwt, extractToken, MAX_TOKEN_LENGTH, type DecodedJwt } from './decode.js';
export { importJwks, RemoteJwks, type KeySource, type VerificationKey } from './keys.js';
export { ASYMMETRIC_ALGS, type AsymmetricAlg } from './jose.js';
export {
  basicCredentials,
  introspect,
  cachedResolver,
  type IntrospectionOptions,
  type IntrospectionResult,
} from './introspection.js';
export {
  authorize,
  presentedRequest,
  refusal,
  requireToken,
  zgwAuthFastify,
  type GuardOptions,
  type Refusal,
} from './adapters.js';
export {
  type Confirmation,
  type PresentedRequest,
  type PresentedToken,
  readAuthorization,
  SenderCheck,
} from './sender.js';
export {
  accessTokenHash,
  type CheckedProof,
  DpopNonces,
  type DpopOptions,
  DpopProofChecker,
  jwkThumbprint,
  normaliseHtu,
  type ProofInput,
} from './dpop.js';
export {
  MemoryReplayCache,
  type RedisSetNx,
  redisReplayCache,
  type ReplayCache,
  ReplayCacheFull,
} from './replay-cache.js';
export { certificateFromHeader, type CertificateHeaderFormat, certificateThumbprint } from './certificate.js';
export {
  type Applicatie,
  type Autorisatie,
  levelsUpTo,
  parseApplicatie,
  MalformedApplicatie,
  type Vertrouwelijkheidaanduiding,
  VERTROUWELIJKHEIDAANDUIDINGEN,
} from './applicatie.js';
export {
  type AutorisatieRequest,
  type Decision,
  type ObjectFacts,
  type RefusalReason,
  type ScopeRequirement,
  type Visible,
} from './decide.js';
export {
  type AcCredentials,
  type ApplicatieLookup,
  type ApplicatieSource,
  AutorisatiesUnavailable,
  remoteApplicaties,
  type RemoteApplicaties,
  type RemoteApplicatiesOptions,
} from './applicatie-source.js';
export {
  AutorisatieRefused,
  type Autorisaties,
  type AutorisatiesOptions,
  type Caller,
  createAutorisaties,
} from './autorisaties.js';
export {
  autorisatieHook,
  autorisatieRefusal,
  type AutorisatieGuardOptions,
  PERMISSION_DENIED_TITLE,
  requireAutorisatie,
} from './autorisatie-guards.js';
