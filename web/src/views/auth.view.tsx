import { useId, useState, type FormEvent } from 'react';
import { useApp } from '../app.context.js';
import { Link } from '../components/link.js';
import { errorMessage } from '../lib/api-error.js';

function useSubmit(action: () => Promise<void>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };
  return { busy, error, submit };
}

export function LoginView() {
  const { api, signedIn } = useApp();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const ids = { email: useId(), password: useId() };
  const { busy, error, submit } = useSubmit(async () => signedIn(await api.login(email.trim(), password)));
  return (
    <section className="auth-card" aria-labelledby="login-title">
      <h1 id="login-title">Sign in to Openflow</h1>
      <form onSubmit={(e) => void submit(e)}>
        <div className="field">
          <label htmlFor={ids.email}>Email</label>
          <input id={ids.email} type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} required autoFocus />
        </div>
        <div className="field">
          <label htmlFor={ids.password}>Password</label>
          <input id={ids.password} type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </div>
        {error ? (
          <p className="form-error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" className="primary wide" disabled={busy || !email || !password} aria-busy={busy}>
          {busy ? <span className="spinner" aria-hidden="true" /> : null}
          Sign in
        </button>
      </form>
      <p className="muted">
        New here? <Link to={{ name: 'register' }}>Create an account</Link>. The first account on a new platform becomes its administrator.
      </p>
    </section>
  );
}

export function RegisterView() {
  const { api, signedIn } = useApp();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const ids = { name: useId(), email: useId(), password: useId(), hint: useId() };
  const short = password.length > 0 && password.length < 8;
  const { busy, error, submit } = useSubmit(async () => signedIn(await api.register({ name: name.trim(), email: email.trim(), password })));
  return (
    <section className="auth-card" aria-labelledby="register-title">
      <h1 id="register-title">Create your account</h1>
      <p className="muted">The first account becomes the platform administrator. Later sign-ups depend on the platform's settings.</p>
      <form onSubmit={(e) => void submit(e)}>
        <div className="field">
          <label htmlFor={ids.name}>Name</label>
          <input id={ids.name} autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} maxLength={100} required autoFocus />
        </div>
        <div className="field">
          <label htmlFor={ids.email}>Email</label>
          <input id={ids.email} type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} maxLength={254} required />
        </div>
        <div className="field">
          <label htmlFor={ids.password}>Password</label>
          <input
            id={ids.password}
            type="password"
            autoComplete="new-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            minLength={8}
            maxLength={200}
            required
            aria-invalid={short}
            aria-describedby={ids.hint}
          />
          <p id={ids.hint} className={short ? 'field-error' : 'hint'}>
            At least 8 characters.
          </p>
        </div>
        {error ? (
          <p className="form-error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" className="primary wide" disabled={busy || !name.trim() || !email.trim() || password.length < 8} aria-busy={busy}>
          {busy ? <span className="spinner" aria-hidden="true" /> : null}
          Create account
        </button>
      </form>
      <p className="muted">
        Already have an account? <Link to={{ name: 'login' }}>Sign in</Link>.
      </p>
    </section>
  );
}
