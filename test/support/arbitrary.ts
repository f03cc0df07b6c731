// Moved to src/hypothesis/arbitrary.ts (program generators are part of the library); kept for in-flight imports.
export * from "../../src/hypothesis/arbitrary.ts";
