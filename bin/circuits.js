#!/usr/bin/env node
// The package ships TypeScript sources; tsx lets `npx circuits` run them
// directly after `npm ci`, with no build step to forget.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
