// After tsc: assembles the dashboard page from src/monitor/dashboard/ into dist/, where the package
// serves it from. The same assembleDashboard builds it in memory when the code runs from src/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assembleDashboard, BUILT_PAGE } from '../dist/monitor/dashboard.js';

const page = assembleDashboard(new URL('../src/monitor/dashboard/', import.meta.url));
mkdirSync(new URL('.', BUILT_PAGE), { recursive: true });
writeFileSync(BUILT_PAGE, JSON.stringify(page));
console.log(`dashboard: ${relative('.', fileURLToPath(BUILT_PAGE))} (${page.html.length} characters)`);
