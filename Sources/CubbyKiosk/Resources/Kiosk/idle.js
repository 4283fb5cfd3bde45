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
