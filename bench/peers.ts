/**
 * The bench's Python peers as long-lived processes (numpy; PyTorch with the
 * reference BLAS; PyTorch with OpenBLAS), spoken to one JSON line at a time
 * (bench/peer_serve.py), so that their timing rounds can interleave with ours.
 * Also: installing Debian's python3-torch when it is missing, and a private
 * copy of Debian's OpenBLAS for it that leaves the system's libblas.so.3 alone.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

/** A peer process; request() sends one op and resolves with its reply. */
export class Peer {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: ((line: string) => void)[] = [];
  private exited: string | null = null;

  constructor(
    readonly name: string,
    command: string,
    args: readonly string[],
    env: NodeJS.ProcessEnv,
    cwd: string,
  ) {
    this.child = spawn(command, args, { env, cwd, stdio: ["pipe", "pipe", "pipe"] });
    createInterface({ input: this.child.stdout }).on("line", (line) => this.waiting.shift()?.(line));
    // Peer progress (training) and Python tracebacks go to our stderr, prefixed.
    createInterface({ input: this.child.stderr }).on("line", (line) => process.stderr.write(`  [${name}] ${line}\n`));
    this.child.on("exit", (code, signal) => {
      this.exited = `${name} exited (${signal ?? code})`;
      for (const w of this.waiting.splice(0)) w(JSON.stringify({ error: this.exited }));
    });
    this.child.on("error", (e) => {
      this.exited = `${name} did not start: ${e.message}`;
      for (const w of this.waiting.splice(0)) w(JSON.stringify({ error: this.exited }));
    });
  }

  /** Send one request; the reply object (with `error` when the peer failed). */
  request<T extends object>(req: Record<string, unknown>): Promise<T & { error?: string }> {
    if (this.exited !== null) return Promise.resolve({ error: this.exited } as T & { error?: string });
    return new Promise((resolve) => {
      this.waiting.push((line) => resolve(JSON.parse(line) as T & { error?: string }));
      this.child.stdin.write(`${JSON.stringify(req)}\n`);
    });
  }

  /** Ask the peer to quit and wait for it. */
  async close(): Promise<void> {
    if (this.exited !== null) return;
    const done = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.stdin.write(`${JSON.stringify({ op: "quit" })}\n`);
    this.child.stdin.end();
    await done;
  }
}

const DEBIAN_PYTHON = "/usr/bin/python3";
const ARCH_LIB = "/usr/lib/x86_64-linux-gnu";
/** Where Debian's reference BLAS (libblas3) puts its libblas.so.3. */
export const REFERENCE_BLAS_DIR = join(ARCH_LIB, "blas");

function run(cmd: string, args: readonly string[], cwd?: string): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", cwd, env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  return { ok: r.status === 0, out: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error?.message ?? ""}` };
}

export interface TorchSetup {
  /** What was done or why there is no PyTorch (one line each). */
  readonly notes: string[];
  readonly python: string;
  /** Directory holding OpenBLAS's libblas.so.3 for LD_LIBRARY_PATH, or null. */
  readonly openblasDir: string | null;
  /** Directory holding the reference libblas.so.3, or null. */
  readonly referenceDir: string | null;
  readonly available: boolean;
}

/**
 * Make Debian's PyTorch importable (apt-get update once, then install
 * python3-torch, which brings the reference BLAS as the system default) and
 * unpack Debian's libopenblas0-pthread under `privateDir` (apt-get download +
 * dpkg-deb -x) so that OpenBLAS reaches PyTorch through LD_LIBRARY_PATH only.
 */
export function ensureTorch(privateDir: string, log: (msg: string) => void): TorchSetup {
  const notes: string[] = [];
  const importable = () => run(DEBIAN_PYTHON, ["-c", "import torch"]).ok;
  if (!importable()) {
    log("PyTorch missing: apt-get update && apt-get install -y python3-torch (a few minutes, once)");
    const u = run("apt-get", ["update", "-q"]);
    if (!u.ok) notes.push(`apt-get update failed: ${u.out.trim().split("\n").pop()}`);
    const i = run("apt-get", ["install", "-y", "-q", "python3-torch"]);
    notes.push(i.ok ? "installed Debian's python3-torch with apt-get" : `apt-get install python3-torch failed: ${i.out.trim().split("\n").pop()}`);
  }
  const available = importable();
  if (!available) notes.push(`${DEBIAN_PYTHON} cannot import torch: no PyTorch figures`);
  const dir = join(privateDir, "root", ARCH_LIB.slice(1), "openblas-pthread");
  if (available && !existsSync(join(dir, "libblas.so.3"))) {
    mkdirSync(privateDir, { recursive: true });
    log("unpacking Debian's libopenblas0-pthread privately (apt-get download + dpkg-deb -x)");
    const d = run("apt-get", ["download", "-o", "APT::Sandbox::User=root", "libopenblas0-pthread"], privateDir);
    const deb = readdirSync(privateDir).find((f) => f.startsWith("libopenblas0-pthread_") && f.endsWith(".deb"));
    if (!d.ok || deb === undefined) notes.push(`apt-get download libopenblas0-pthread failed: ${d.out.trim().split("\n").pop()}`);
    else {
      const x = run("dpkg-deb", ["-x", join(privateDir, deb), join(privateDir, "root")]);
      if (!x.ok) notes.push(`dpkg-deb -x failed: ${x.out.trim().split("\n").pop()}`);
    }
  }
  const openblasDir = existsSync(join(dir, "libblas.so.3")) ? dir : null;
  const referenceDir = existsSync(join(REFERENCE_BLAS_DIR, "libblas.so.3")) ? REFERENCE_BLAS_DIR : null;
  if (available && openblasDir === null) notes.push("no private OpenBLAS: no PyTorch+OpenBLAS figures");
  return { notes, python: DEBIAN_PYTHON, openblasDir, referenceDir, available };
}

/** Start the numpy peer (the Python on PATH, OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset for it alone). */
export function startNumpy(benchDir: string): Peer {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return new Peer("numpy", "python3", [join(benchDir, "peer_numpy.py")], env, benchDir);
}

/** Start a PyTorch peer with libblas.so.3 taken from `blasDir` (LD_LIBRARY_PATH for this process only). */
export function startTorch(name: string, setup: TorchSetup, blasDir: string, benchDir: string): Peer {
  // OpenMP threads that spin while waiting make PyTorch 20–50× slower on a loaded 2-core machine
  // (measured here: 0.7 s against 0.015 s for one forward of the training model); passive waiting
  // is what gives the peer its best figure.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LD_LIBRARY_PATH: [blasDir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(":"),
    OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? "passive",
  };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return new Peer(name, setup.python, [join(benchDir, "peer_torch.py")], env, benchDir);
}
