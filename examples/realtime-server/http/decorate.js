'use strict';

// Plain-JS decorator application (what TypeScript's decorator syntax compiles to).

// method(Cls, 'name', [Get('x'), HttpCode(200)], [Param('id'), Body()]): method decorators, then
// parameter decorators by position (null skips a position)
function method(Cls, name, decorators, params = []) {
  const proto = Cls.prototype;
  params.forEach((d, i) => {
    if (d) d(proto, name, i);
  });
  for (const d of decorators) {
    const descriptor = Object.getOwnPropertyDescriptor(proto, name);
    const result = d(proto, name, descriptor);
    if (result) Object.defineProperty(proto, name, result);
  }
}

module.exports = { method };
