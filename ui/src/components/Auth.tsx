// Sign in and register.

import { useState } from "preact/hooks";
import { ApiError, signIn } from "../api";
import { Icon, Logo } from "./icons";

const messages: Record<number, string> = {
  401: "Wrong email or password.",
  409: "That email is already registered. Sign in instead.",
  429: "Too many attempts. Wait a minute and try again.",
  403: "Registration is turned off on this server. Ask an administrator for an account.",
};

export function Auth({ notice }: { notice?: string }) {
  const [mode, setMode] = useState<"signin" | "register">("signin");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState(notice ?? "");
  const [busy, setBusy] = useState(false);
  const register = mode === "register";

  async function submit(e: Event) {
    e.preventDefault();
    setError("");
    if (!email.trim() || password.length < 8) {
      setError("Enter your email and a password of at least 8 characters.");
      return;
    }
    setBusy(true);
    try {
      await signIn(email.trim(), password, register);
    } catch (err) {
      if (err instanceof ApiError) setError(messages[err.status] ?? (err.status === 0 ? "The server cannot be reached." : err.message));
      else setError("The server cannot be reached.");
      setBusy(false);
    }
  }

  return (
    <main class="auth" id="main">
      <div class="auth-brand">
        <Logo />
        <span>medstream</span>
      </div>
      <form class="auth-card" onSubmit={submit} noValidate aria-labelledby="auth-title">
        <h1 id="auth-title">{register ? "Create your account" : "Sign in"}</h1>
        <p class="muted">{register ? "Cited answers from your clinical knowledge base, streamed as they are written." : "Welcome back. Your conversations are where you left them."}</p>
        <label for="email">Email</label>
        <input id="email" name="email" type="email" autoComplete="username" required value={email} onInput={(e) => setEmail((e.target as HTMLInputElement).value)} />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autoComplete={register ? "new-password" : "current-password"} minLength={8} required value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} aria-describedby="pw-hint" />
        <p id="pw-hint" class="hint">At least 8 characters.</p>
        <p class="form-error" role="alert">{error}</p>
        <button class="btn primary wide" type="submit" disabled={busy}>
          {busy ? "Please wait…" : register ? "Create account" : "Sign in"}
        </button>
        <p class="switch">
          {register ? "Already have an account?" : "New to medstream?"}{" "}
          <button type="button" class="link" onClick={() => { setMode(register ? "signin" : "register"); setError(""); }}>
            {register ? "Sign in" : "Create an account"}
          </button>
        </p>
      </form>
      <p class="auth-foot"><Icon name="shield" size={16} /> Runs on your own server. Your session key never reaches page scripts.</p>
    </main>
  );
}
