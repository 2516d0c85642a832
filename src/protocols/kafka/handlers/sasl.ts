/**
 * SaslHandshake (17) and SaslAuthenticate (36): PLAIN against the core's user store. PLAIN's token is
 * `[authzid] NUL authcid NUL password` (RFC 4616); an authzid other than the user is refused. A failed login
 * answers SASL_AUTHENTICATION_FAILED; the session then closes the connection, as Kafka does.
 */
import type { SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse, Encodable } from '../codec/index.js';
import { ErrorCode } from '../codec/index.js';
import type { KafkaContext, SessionState } from '../context.js';
import { kafkaErrorOf } from '../error-map.js';

export const SASL_MECHANISMS = ['PLAIN'];

export function handleSaslHandshake(session: SessionState, req: SaslHandshakeRequest): Encodable<SaslHandshakeResponse> {
  if (!SASL_MECHANISMS.includes(req.mechanism)) return { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms: SASL_MECHANISMS };
  session.saslMechanism = req.mechanism;
  return { errorCode: ErrorCode.NONE, mechanisms: SASL_MECHANISMS };
}

/** Verifies a PLAIN token; on success replaces the session's principal. */
export async function authenticatePlain(ctx: KafkaContext, session: SessionState, token: Buffer): Promise<Encodable<SaslAuthenticateResponse>> {
  if (session.saslMechanism !== 'PLAIN') {
    return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, errorMessage: 'SaslAuthenticate before a successful SaslHandshake', authBytes: Buffer.alloc(0) };
  }
  const parts = token.toString('utf8').split('\0');
  if (parts.length !== 3 || (parts[0] !== '' && parts[0] !== parts[1])) {
    return { errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED, errorMessage: 'malformed PLAIN token', authBytes: Buffer.alloc(0) };
  }
  try {
    session.principal = await ctx.broker.users.authenticate(parts[1], parts[2], session.peerAddress, { mechanism: 'PLAIN' });
    ctx.logger.debug({ session: session.id, user: parts[1] }, 'SASL PLAIN login');
    return { errorCode: ErrorCode.NONE, errorMessage: null, authBytes: Buffer.alloc(0), sessionLifetimeMs: 0 };
  } catch (err) {
    const e = kafkaErrorOf(err);
    return { errorCode: e.code === ErrorCode.UNKNOWN_SERVER_ERROR ? ErrorCode.SASL_AUTHENTICATION_FAILED : e.code, errorMessage: 'Authentication failed: invalid credentials', authBytes: Buffer.alloc(0) };
  }
}
