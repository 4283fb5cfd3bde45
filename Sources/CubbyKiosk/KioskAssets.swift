/// The kiosk's one stylesheet and one script, compiled into the program (no resource files to find at run time).
enum KioskAssets {
    static let stylesheet = #"""
        :root {
          color-scheme: light;
          --ink: #111418; --muted: #3d4550; --line: #5b6572; --bg: #ffffff; --soft: #eef1f5;
          --accent: #0a4a86; --accent-ink: #ffffff; --danger: #9c1c14; --danger-soft: #fde9e7;
          --ok: #1b6430; --ok-soft: #e5f3e8; --warn: #7a4c00; --warn-soft: #fff3cf; --focus: #f2b400;
        }
        * { box-sizing: border-box; }
        html { font-size: 24px; }
        body { margin: 0; font: 1rem/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
        a { color: var(--accent); }
        :focus-visible { outline: 4px solid var(--ink); outline-offset: 3px; box-shadow: 0 0 0 8px var(--focus); }

        .bar { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; padding: .5rem 1.25rem; background: var(--soft); border-bottom: 2px solid var(--line); }
        .unit { margin: 0; font-size: 1.1rem; }
        .brand { color: var(--muted); }
        .unit-name { margin-left: .5rem; }
        .languages { list-style: none; display: flex; gap: .75rem; margin: 0 0 0 auto; padding: 0; }
        nav { margin-left: auto; }
        .languages a { display: inline-flex; align-items: center; min-height: 64px; min-width: 64px; padding: 0 1rem; border: 2px solid var(--line); border-radius: 10px; background: var(--bg); color: var(--ink); text-decoration: none; font-weight: 600; }
        .languages a[aria-current="true"] { background: var(--ink); color: var(--bg); border-color: var(--ink); }
        .banner { flex-basis: 100%; margin: 0; padding: .6rem 1rem; background: var(--warn-soft); border-left: 8px solid var(--warn); font-weight: 600; }

        main { max-width: 60rem; margin: 0 auto; padding: 1rem 1.25rem 3rem; }
        h1 { font-size: 2rem; line-height: 1.2; margin: .75rem 0 1rem; }
        h2 { font-size: 1.35rem; margin: 0 0 .75rem; }
        p { margin: 0 0 1rem; }
        .intro { font-size: 1.1rem; }
        .big-text { font-size: 1.5rem; font-weight: 700; margin: 0; }
        .hint { color: var(--muted); font-size: .9rem; margin: .25rem 0 .75rem; }
        .who { font-weight: 600; }
        .idle { margin-top: 2rem; }

        .methods { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fit, minmax(16rem, 1fr)); }
        .method, .courier, .done { border: 2px solid var(--line); border-radius: 14px; padding: 1rem; }
        .courier, .done { margin-top: 1.5rem; }
        .stack { display: grid; gap: .5rem; max-width: 36rem; }

        label, legend { display: block; font-weight: 700; margin-top: .25rem; }
        input[type="text"], input[type="password"] {
          display: block; width: 100%; min-height: 72px; padding: .3rem .75rem; font: inherit; font-size: 1.35rem;
          color: var(--ink); background: var(--bg); border: 3px solid var(--line); border-radius: 10px;
        }
        input[type="text"]:focus, input[type="password"]:focus { border-color: var(--accent); }

        button, .button {
          display: inline-flex; align-items: center; justify-content: center; min-height: 72px; min-width: 8rem; padding: .3rem 1.5rem;
          font: inherit; font-size: 1.2rem; font-weight: 700; text-decoration: none; cursor: pointer;
          color: var(--accent-ink); background: var(--accent); border: 3px solid var(--accent); border-radius: 12px;
        }
        .method button { width: 100%; }
        button.secondary, .button.secondary { color: var(--ink); background: var(--bg); border-color: var(--ink); }
        .button.big { min-height: 96px; width: 100%; font-size: 1.5rem; }
        .stack + .button { margin-top: 1rem; }
        main > .button { margin-top: 1.25rem; }

        .sizes { border: 0; padding: 0; margin: .5rem 0; display: grid; gap: .5rem; grid-template-columns: repeat(2, minmax(0, 1fr)); }
        .sizes legend { margin-bottom: .5rem; }
        .size { display: flex; align-items: center; gap: .75rem; min-height: 80px; padding: 0 1rem; border: 3px solid var(--line); border-radius: 12px; background: var(--bg); }
        .size input { width: 36px; height: 36px; margin: 0; flex: none; accent-color: var(--accent); }
        .size label { flex: 1; margin: 0; min-height: 74px; display: flex; align-items: center; font-size: 1.2rem; }
        .size:has(input:checked) { border-color: var(--accent); background: var(--soft); }

        .alert, .notice, .result, .lockdown { border-radius: 12px; padding: 1rem 1.25rem; margin: 0 0 1.25rem; }
        .alert { background: var(--danger-soft); border-left: 10px solid var(--danger); font-weight: 600; }
        .notice { background: var(--soft); border-left: 10px solid var(--accent); }
        .result { background: var(--ok-soft); border-left: 10px solid var(--ok); }
        .alert p, .notice p { margin: 0; }
        .lockdown { background: var(--danger); color: #ffffff; padding: 2rem 1.5rem; }
        """#

    /// `idle.js`: takes a page back to the start after the idle timeout, unless someone is using it.
    static let idleScript = #"""
        // Cubby kiosk: back to the start screen when nobody has touched this page for a while.
        //
        // The wait, in seconds, is the body element's `data-idle-seconds` attribute; every key press, pointer press,
        // touch or edit starts it again, so the page never reloads under someone typing. When it runs out the
        // browser goes to /?idle=1, where the start screen also forgets the language the last visitor chose.
        // Without this script the pages work the same; only the return to the start does not happen by itself
        // (a courier's session still ends on the server after the same time).
        (function () {
            "use strict";

            var RESET_EVENTS = ["keydown", "pointerdown", "touchstart", "input"];
            var START = "/?idle=1";
            // setTimeout takes at most 2^31 - 1 ms; a longer delay would fire at once.
            var MAX_SECONDS = 2147483;

            var body = document.body;
            var seconds = body ? parseInt(body.getAttribute("data-idle-seconds") || "", 10) : NaN;
            if (!(seconds > 0)) {
                return;
            }
            var delay = Math.min(seconds, MAX_SECONDS) * 1000;
            var timer = 0;

            function backToStart() {
                window.location.replace(START);
            }

            function restart() {
                window.clearTimeout(timer);
                timer = window.setTimeout(backToStart, delay);
            }

            RESET_EVENTS.forEach(function (type) {
                // Capture, so a handler that stops the event further down still counts as a touch.
                document.addEventListener(type, restart, { capture: true, passive: true });
            });
            // A page brought back from the back-forward cache starts its wait afresh.
            window.addEventListener("pageshow", restart);
            restart();
        }());
        """#
}
