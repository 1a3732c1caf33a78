/** The one stylesheet of the admin and account pages (served as `static/style.css`; CSP allows no inline style). */
export const STYLE_CSS = `
:root { color-scheme: light dark; --fg: #1b1b1b; --bg: #fff; --muted: #666; --line: #d5d5d5; --accent: #0b5cad; --ok: #1d6b2a; --err: #b00020; --soft: #f3f5f8; }
@media (prefers-color-scheme: dark) { :root { --fg: #e8e8e8; --bg: #16181b; --muted: #a0a0a0; --line: #3a3d42; --accent: #6cb0ff; --ok: #7fd88f; --err: #ff7b8a; --soft: #22252a; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; padding: .6rem 1rem; border-bottom: 1px solid var(--line); background: var(--soft); }
header .brand { font-weight: 600; text-decoration: none; color: var(--fg); }
nav { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1rem; flex: 1; }
nav ul { display: flex; flex-wrap: wrap; gap: .25rem .9rem; list-style: none; margin: 0; padding: 0; flex: 1; }
nav a[aria-current] { font-weight: 600; text-decoration: underline; }
nav .logout { margin: 0; } nav .who { color: var(--muted); }
main { padding: 1rem; max-width: 72rem; }
h1 { font-size: 1.4rem; margin: .2rem 0 1rem; } h2 { font-size: 1.15rem; margin: 1.6rem 0 .6rem; }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, textarea:focus-visible { outline: 3px solid var(--accent); outline-offset: 1px; }
.flash { padding: .5rem .75rem; border-radius: 4px; border: 1px solid; }
.flash.ok { color: var(--ok); border-color: var(--ok); } .flash.error { color: var(--err); border-color: var(--err); }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; }
pre, code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9em; }
pre { background: var(--soft); padding: .6rem; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
form { margin: .5rem 0; }
form.inline { display: inline; margin: 0; }
form.stack, form.login { display: grid; gap: .6rem; max-width: 32rem; }
form.row { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; }
fieldset { display: grid; gap: .35rem; border: 1px solid var(--line); border-radius: 4px; padding: .5rem .75rem; margin: 0; } legend { font-weight: 600; padding: 0 .3rem; }
pre.secret { font-size: 1rem; user-select: all; }
label { display: grid; gap: .2rem; } label.check { display: flex; gap: .4rem; align-items: center; }
input, select, textarea, button { font: inherit; color: inherit; }
input, select, textarea { padding: .35rem .45rem; border: 1px solid var(--line); border-radius: 4px; background: var(--bg); min-width: 0; }
button { padding: .35rem .8rem; border: 1px solid var(--accent); border-radius: 4px; background: var(--accent); color: var(--bg); cursor: pointer; }
button.secondary { background: transparent; color: var(--accent); }
button.danger { background: var(--err); border-color: var(--err); }
.muted { color: var(--muted); } .small { font-size: .85em; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; } dl.kv dt { font-weight: 600; } dl.kv dd { margin: 0; word-break: break-word; }
td code.small { word-break: break-all; }
.check-ok { color: var(--ok); } .check-missing, .check-different, .check-error { color: var(--err); }
.actions { display: flex; flex-wrap: wrap; gap: .4rem; margin: .5rem 0; }
@media (max-width: 40rem) { main { padding: .6rem; } th, td { padding: .3rem; } }
`;
