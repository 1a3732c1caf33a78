/**
 * HTML pages of the webapi (as mox): `<base>v0/` lists the methods; `<base>v0/<Method>` shows an
 * example request in a form to call the method, and the example response. No external resources;
 * the inline script posts the form field `request` with fetch and shows the JSON answer.
 */
import { escapeHtml } from '../web/respond.js';
import { METHODS, METHOD_NAMES, type MethodName } from './methods.js';

const STYLE = `body, html { padding: 1em; font-size: 16px; font-family: ubuntu, lato, sans-serif; }
* { margin: 0; padding: 0; box-sizing: border-box; }
h1, h2 { margin-bottom: 1ex; } h1 { font-size: 1.2rem; } h2 { font-size: 1.1rem; }
ul { padding-left: 1rem; } p { margin-bottom: 1em; max-width: 50em; }
fieldset { border: 0; } textarea { width: 100%; max-width: 50em; font-family: monospace; }
code { background: #eee; }`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html>
<head>
<meta charset="utf-8" />
<meta name="robots" content="noindex,nofollow" />
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

export function indexPage(): string {
  const items = METHOD_NAMES.map((m) => `<li><a href="${m}">${m}</a> — ${escapeHtml(METHODS[m].description)}</li>`).join('\n');
  return page(
    'Webapi - moxts',
    `<h1>Webapi</h1>
<p>An HTTP/JSON API for sending messages and processing incoming messages, compatible with the mox webapi v0.
Call a method with <code>POST v0/&lt;Method&gt;</code>, HTTP Basic authentication with an email address of your account and its password,
and the request JSON in the form field <code>request</code> (urlencoded or multipart/form-data) or as an <code>application/json</code> body.
Errors are HTTP 400 with a JSON object <code>{"Code": "...", "Message": "..."}</code>.</p>
<p>Machine-readable description: <a href="openapi.json">openapi.json</a> (OpenAPI 3.1).</p>
<h2>Methods</h2>
<p>Follow a link for an example request and response, and a form to call the method.</p>
<ul>
${items}
</ul>
<p>Example:</p>
<pre>curl -u mox@localhost:moxmoxmox ${'<base>'}v0/Send \\
  -d 'request={"To": [{"Address": "someone@localhost"}], "Subject": "hi", "Text": "hello"}'</pre>`.replace('<base>', '&lt;base&gt;'),
  );
}

export function methodPage(name: MethodName): string {
  const m = METHODS[name];
  const req = JSON.stringify(m.exampleRequest, null, '\t');
  const bytes = m.response === undefined;
  const resp = bytes ? '' : JSON.stringify(m.exampleResponse, null, '\t');
  return page(
    `Method ${name} - Webapi - moxts`,
    `<h1><a href="./">Webapi</a> - Method ${name}</h1>
<p>${escapeHtml(m.description)}</p>
<form id="webapicall" method="POST">
<fieldset id="webapifieldset">
<h2>Request JSON</h2>
<div><textarea id="webapirequest" name="request" required rows="20">${escapeHtml(req)}</textarea></div>
<br/>
<div><button type="reset">Reset</button> <button type="submit">Call</button></div>
<br/>
${bytes ? '<p>This method answers with bytes, not JSON: the browser shows or saves them.</p>' : `<h2>Response JSON</h2>\n<div><textarea id="webapiresponse" rows="20">${escapeHtml(resp)}</textarea></div>`}
</fieldset>
</form>
<script>
window.addEventListener('load', () => {
	const form = document.getElementById('webapicall')
	form.addEventListener('submit', async (e) => {
		const stop = () => { e.stopPropagation(); e.preventDefault() }
		const reqText = document.getElementById('webapirequest').value
		try {
			JSON.parse(reqText)
		} catch (err) {
			window.alert('Error parsing request: ' + err.message)
			stop()
			return
		}
		if (${bytes ? 'true' : 'false'}) return // Let the browser post and show the bytes.
		stop()
		const fs = document.getElementById('webapifieldset')
		fs.disabled = true
		const data = new FormData()
		data.append('request', reqText)
		try {
			const response = await fetch(${JSON.stringify(name)}, { body: data, method: 'POST' })
			const text = await response.text()
			let out = text
			try { out = JSON.stringify(JSON.parse(text), undefined, '\\t') } catch {}
			document.getElementById('webapiresponse').value = out
		} catch (err) {
			window.alert('Error: ' + err.message)
		} finally {
			fs.disabled = false
		}
	})
})
</script>`,
  );
}
