// A main app outside the repository, as a user of the published middleware writes one: plain
// node:http, `pdf-appliance-replay` from its own node_modules and nothing else. The pack test
// copies this file into a temp dir next to the installed tarball.
import { createServer } from 'node:http';
import { APPLIANCE_HEADER, pdfReplay } from 'pdf-appliance-replay';

const replay = pdfReplay({ app: 'pdf' });

const server = createServer((req, res) => {
  if (replay(req, res)) return;
  if (req.url === '/reports/q3') {
    // Says who asked, so the test can see the page was loaded by the appliance (loop guard).
    const asker = req.headers[APPLIANCE_HEADER] === '1' ? 'the appliance' : 'a browser';
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(
      `<!doctype html><html lang="en"><title>Q3</title><h1>Quarterly report Q3</h1><p>Loaded by ${asker}.</p></html>`,
    );
    return;
  }
  res.statusCode = 404;
  res.setHeader('Content-Type', 'text/plain');
  res.end('not found');
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`listening http://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
