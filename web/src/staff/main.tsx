import { render } from 'preact';
import { StaffApp } from './app';
import { configureAuth } from '../auth';
import { loadConfig } from '../config';
import '../styles.css';

const root = document.getElementById('app')!;
loadConfig()
  .then((config) => {
    if (!config.staffCognito) throw new Error('config.json names no staff user pool (staffCognito)');
    // Staff sign in to their own pool; its tokens are kept apart from a customer's session.
    configureAuth({ ...config, cognito: config.staffCognito });
    render(<StaffApp config={config} />, root);
  })
  .catch((e: Error) => {
    root.innerHTML = '';
    const p = document.createElement('p');
    p.setAttribute('role', 'alert');
    p.textContent = `The back office could not start: ${e.message}`;
    root.append(p);
  });
