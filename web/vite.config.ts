import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const managerUrl = process.env.OPENFLOW_URL ?? 'http://127.0.0.1:4071';

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true },
  // `npm run dev:web` serves the dashboard with hot reload and sends API calls to a running manager.
  server: { proxy: { '/api': { target: managerUrl, changeOrigin: false } } },
});
