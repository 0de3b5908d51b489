'use strict';

// JWT handshake and Bearer authentication. A token is untrusted input: only HS256 is accepted
// (never `none` or a public-key algorithm with the secret as key), and the claims must be
// well-formed before anything uses them as room names or queue ids.

const jwt = require('jsonwebtoken');

const ROLES = ['admin', 'editor', 'viewer'];
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const CLIENT_ID = /^[A-Za-z0-9_.:-]{1,128}$/; // also what a Socket.io id looks like (the default)
const MAX_TOKEN_CHARS = 4096;

class AuthError extends Error {
  constructor(message) {
    super(message);
    this.code = 'ERR_RT_UNAUTHORIZED';
  }
}

function isId(value) {
  return typeof value === 'string' && ID.test(value);
}

// -> { sub, org, role } or throws AuthError
function claimsOf(payload) {
  if (!payload || typeof payload !== 'object') throw new AuthError('token has no claims');
  const { sub, org, role } = payload;
  if (!isId(sub)) throw new AuthError('token claim "sub" must be an id ([A-Za-z0-9._-], at most 64)');
  if (!isId(org)) throw new AuthError('token claim "org" must be an id ([A-Za-z0-9._-], at most 64)');
  if (!ROLES.includes(role)) throw new AuthError(`token claim "role" must be one of ${ROLES.join(', ')}`);
  return { sub, org, role };
}

function createAuth(secret) {
  return {
    sign(claims, { expiresIn = '12h' } = {}) {
      const { sub, org, role } = claimsOf(claims);
      return jwt.sign({ sub, org, role }, secret, { algorithm: 'HS256', expiresIn });
    },

    // -> { sub, org, role }; throws AuthError for anything else
    verify(token) {
      if (typeof token !== 'string' || token.length === 0) throw new AuthError('missing token');
      if (token.length > MAX_TOKEN_CHARS) throw new AuthError('token too long');
      let payload;
      try {
        payload = jwt.verify(token, secret, { algorithms: ['HS256'] });
      } catch (err) {
        throw new AuthError(`invalid token: ${err.message}`);
      }
      return claimsOf(payload);
    },

    // `Authorization: Bearer <token>` of an HTTP request
    fromRequest(req) {
      const header = req.headers && req.headers.authorization;
      if (typeof header !== 'string') throw new AuthError('missing Authorization: Bearer <token>');
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!m) throw new AuthError('Authorization must be "Bearer <token>"');
      return this.verify(m[1]);
    },

    // Socket.io middleware: `auth: { token, clientId }`. Every refusal is the same
    // `connect_error` message, so a client cannot probe which part was wrong.
    middleware(log) {
      return (socket, next) => {
        try {
          const auth = socket.handshake.auth || {};
          const claims = this.verify(auth.token);
          const clientId = auth.clientId === undefined ? socket.id : auth.clientId;
          if (typeof clientId !== 'string' || !CLIENT_ID.test(clientId)) throw new AuthError('invalid clientId');
          // A recovered session keeps its socket.data: the token must still be the same user's.
          const prev = socket.data;
          if (prev && prev.sub !== undefined && (prev.sub !== claims.sub || prev.org !== claims.org)) {
            throw new AuthError('token does not match the recovered session');
          }
          socket.data.sub = claims.sub;
          socket.data.org = claims.org;
          socket.data.role = claims.role;
          socket.data.clientId = clientId;
          next();
        } catch (err) {
          if (log) log(`refused ${socket.id}: ${err.message}`);
          const refusal = new Error('unauthorized');
          next(refusal);
        }
      };
    },
  };
}

module.exports = { createAuth, claimsOf, AuthError, ROLES, isId };
