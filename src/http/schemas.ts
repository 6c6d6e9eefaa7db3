import { Type } from 'typebox';

export const ErrorSchema = Type.Object({ code: Type.String(), message: Type.String() }, { additionalProperties: true });
export const Uuid = Type.String({ format: 'uuid' });
export const IdParams = Type.Object({ id: Uuid });
export const Email = Type.String({ format: 'email', maxLength: 254 });
export const Password = Type.String({ minLength: 8, maxLength: 200 });
export const Name = Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' });
export const Ok = Type.Object({ ok: Type.Boolean() });

export const UserSchema = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.String(),
  isAdmin: Type.Boolean(),
  createdAt: Type.String(),
});

export const errorResponses = {
  400: ErrorSchema,
  401: ErrorSchema,
  403: ErrorSchema,
  404: ErrorSchema,
  409: ErrorSchema,
};
