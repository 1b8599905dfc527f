// Token minting for an API's own tests: self-signed HS256 tokens as ZGW consumers make them, and
// IdP-style tokens signed with a key of your choosing. Not needed to accept tokens.
export { base64urlJson, hs256, type JoseHeader, type JwsPayload, signJws, type SigningKeyInput } from './jose.js';
