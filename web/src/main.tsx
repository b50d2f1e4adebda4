import { render } from 'preact';
import { App } from './app';
import { configureAuth } from './auth';
import { loadConfig } from './config';
import './styles.css';

const root = document.getElementById('app')!;
loadConfig()
  .then((config) => {
    configureAuth(config);
    render(<App config={config} />, root);
  })
  .catch((e: Error) => {
    root.innerHTML = '';
    const p = document.createElement('p');
    p.setAttribute('role', 'alert');
    p.textContent = `The portal could not start: ${e.message}`;
    root.append(p);
  });
