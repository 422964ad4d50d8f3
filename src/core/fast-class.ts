/**
 * Keeping a hot class's constructor optimisable when a transpiler keeps
 * function names.
 *
 * esbuild's `keepNames` (which tsx turns on, so every `npx tsx` run of this
 * library and of its benches has it) gives every class a
 * `static { __name(this, "X") }` that redefines the constructor's `name`
 * (a native accessor on a function) as a data property. V8 then keeps the
 * constructor object in dictionary mode unless it is used as a prototype,
 * which is the case only for classes with subclasses. For a derived class
 * without subclasses (`NormalDistribution`), TurboFan's compile of its
 * constructor, and of every function that inlines a `new` of it, is then
 * aborted again and again ("Bailed out due to dependency change",
 * StableMapDependency: ~25 aborts a program-SMC run), so the constructor
 * runs unoptimised: ~430 ns a construction against ~60 in a plain-JS
 * harness of the same classes. The cure is to make the constructor what
 * its base classes already are, a prototype looked up through: V8 then
 * gives it fast properties, and its compiles succeed.
 *
 * @module
 */

/**
 * Make class `cls`'s constructor object an optimisable (fast-properties)
 * object when a name-keeping transpiler left it in dictionary mode (see the
 * module note); harmless otherwise. Call it once, after the class, for
 * classes whose instances are built in hot loops. Returns `cls`.
 */
export function fastConstructor<C extends abstract new (...args: never[]) => unknown>(cls: C): C {
  // (V8 makes an object fast when it becomes a prototype and a lookup goes through it; `Object.create(cls)`
  // alone, without the lookup, does not)
  void (Object.setPrototypeOf({}, cls) as { readonly length: unknown }).length;
  return cls;
}
