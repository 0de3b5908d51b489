'use strict';

// Every HTTP error answers `{ error: { code, message } }` with a stable code, whatever raised it:
// our RequestErrors, Nest's HttpExceptions (an unknown route, a body that is not JSON) or a bug
// (500, without its message).

const { Catch, HttpException, Logger } = require('@nestjs/common');
const { RequestError, CODES } = require('../errors');

const BY_STATUS = { 400: CODES.invalid, 401: CODES.unauthorized, 403: CODES.forbidden, 404: CODES.notFound, 413: 'ERR_RT_TOO_LARGE' };

class HttpErrorFilter {
  constructor() {
    this.log = new Logger('Http');
  }

  catch(exception, host) {
    const res = host.switchToHttp().getResponse();
    let status = 500;
    let error = { code: 'ERR_RT_INTERNAL', message: 'internal error' };
    if (exception instanceof RequestError) {
      status = exception.status;
      error = { code: exception.code, message: exception.message };
    } else if (exception instanceof HttpException) {
      status = exception.getStatus();
      const body = exception.getResponse();
      const message = typeof body === 'string' ? body : Array.isArray(body.message) ? body.message.join('; ') : body.message || exception.message;
      error = { code: BY_STATUS[status] || (status >= 500 ? 'ERR_RT_INTERNAL' : CODES.invalid), message: String(message) };
    } else if (exception && (exception.type === 'entity.parse.failed' || exception.type === 'entity.too.large')) {
      // body-parser errors that reached Nest as they are
      status = exception.status || 400;
      error = { code: BY_STATUS[status] || CODES.invalid, message: exception.type === 'entity.too.large' ? 'request body too large' : 'request body is not valid JSON' };
    } else {
      this.log.error(exception && exception.stack ? exception.stack : String(exception));
    }
    res.status(status).json({ error });
  }
}
Catch()(HttpErrorFilter);

module.exports = { HttpErrorFilter };
