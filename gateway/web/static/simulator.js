/*
 * The phone simulator: posts to the gateway exactly as Africa's Talking does.
 *
 * USSD: every step posts sessionId, serviceCode, phoneNumber, networkCode and text (all inputs
 * of the session joined by "*") to /simulator/ussd, and shows the CON/END screen it answers.
 * SMS: a message is posted to /simulator/sms as AT posts it to /sms/inbound; replies are read
 * by polling /simulator/messages, since the workers send them later. The number is always the
 * simulator number the gateway handed to this page.
 *
 * Plain ES5 and XMLHttpRequest: staff use old browsers. Text is only ever set with textContent.
 */
(function () {
  "use strict";

  var root = document.getElementById("simulator");
  if (!root) {
    return;
  }
  var config = {
    ussdUrl: root.getAttribute("data-ussd-url"),
    smsUrl: root.getAttribute("data-sms-url"),
    messagesUrl: root.getAttribute("data-messages-url"),
    csrf: root.getAttribute("data-csrf"),
    serviceCode: root.getAttribute("data-service-code"),
    shortcode: root.getAttribute("data-shortcode"),
    network: root.getAttribute("data-network"),
    phone: root.getAttribute("data-phone"),
    textError: root.getAttribute("data-text-error"),
    textEnded: root.getAttribute("data-text-ended"),
    textIdle: root.getAttribute("data-text-idle"),
    textNoSms: root.getAttribute("data-text-no-sms")
  };
  // Replies keep coming for a while after a message (an answer, then a confirmation).
  var POLL_EVERY_MS = 1500;
  var POLL_FOR_MS = 90000;

  function byId(id) {
    return document.getElementById(id);
  }

  function phone() {
    // The session's simulator number: the gateway refuses any other.
    return config.phone;
  }

  function randomId(prefix) {
    var id = prefix;
    for (var i = 0; i < 4; i++) {
      id += Math.floor(Math.random() * 0x100000000).toString(16);
    }
    return id;
  }

  function encode(fields) {
    var parts = [];
    for (var name in fields) {
      if (Object.prototype.hasOwnProperty.call(fields, name)) {
        parts.push(encodeURIComponent(name) + "=" + encodeURIComponent(fields[name]));
      }
    }
    return parts.join("&");
  }

  function request(method, url, body, done) {
    var xhr = new XMLHttpRequest();
    xhr.open(method, url, true);
    if (body !== null) {
      xhr.setRequestHeader("Content-Type", "application/x-www-form-urlencoded");
      // The simulator's doors are staff pages: every POST carries the CSRF token.
      xhr.setRequestHeader("X-CSRF-Token", config.csrf);
    }
    xhr.onreadystatechange = function () {
      if (xhr.readyState === 4) {
        done(xhr.status, xhr.responseText);
      }
    };
    xhr.send(body);
  }

  /* -- USSD ------------------------------------------------------------------------------ */

  var ussd = { sessionId: null, inputs: [], busy: false };

  function ussdShow(text, live) {
    byId("ussd-screen").textContent = text;
    byId("ussd-input").disabled = !live;
    byId("ussd-send").disabled = !live;
    byId("ussd-hangup").disabled = !live;
    byId("ussd-dial").disabled = live;
    if (live) {
      byId("ussd-input").value = "";
      byId("ussd-input").focus();
    }
  }

  function ussdPost() {
    ussd.busy = true;
    var form = {
      sessionId: ussd.sessionId,
      serviceCode: config.serviceCode,
      phoneNumber: phone(),
      networkCode: config.network,
      text: ussd.inputs.join("*")
    };
    request("POST", config.ussdUrl, encode(form), function (status, text) {
      ussd.busy = false;
      if (status === 200 && text.indexOf("CON ") === 0) {
        ussdShow(text.substring(4), true);
      } else if (status === 200 && text.indexOf("END ") === 0) {
        ussd.sessionId = null;
        ussdShow(text.substring(4) + "\n\n" + config.textEnded, false);
      } else {
        // AT drops the call on anything but a 200 with CON/END.
        ussd.sessionId = null;
        ussdShow(config.textError + " (HTTP " + status + ")\n" + text, false);
      }
    });
  }

  function ussdDial() {
    ussd.sessionId = randomId("sim-");
    ussd.inputs = [];
    byId("ussd-screen").textContent = "...";
    ussdPost();
  }

  function ussdAnswer(event) {
    event.preventDefault();
    if (!ussd.sessionId || ussd.busy) {
      return;
    }
    ussd.inputs.push(byId("ussd-input").value);
    ussdPost();
  }

  function ussdHangup() {
    // A dropped call: the gateway is not told, as when a telco cuts a session.
    ussd.sessionId = null;
    ussdShow(config.textIdle, false);
  }

  function keypad(event) {
    var key = event.target.getAttribute("data-key");
    var input = byId("ussd-input");
    if (key && !input.disabled) {
      input.value += key;
      input.focus();
    }
  }

  /* -- SMS ------------------------------------------------------------------------------- */

  var sms = { after: "", seen: {}, pollUntil: 0, timer: null, number: null };

  function smsAdd(text, mine, when) {
    var thread = byId("sms-thread");
    var bubble = document.createElement("div");
    bubble.className = mine ? "bubble mine" : "bubble theirs";
    bubble.textContent = text;
    if (when) {
      bubble.setAttribute("title", when);
    }
    thread.appendChild(bubble);
    thread.scrollTop = thread.scrollHeight;
  }

  function smsPoll() {
    sms.timer = null;
    var url = config.messagesUrl + "?" + encode({ phone: sms.number, after: sms.after });
    request("GET", url, null, function (status, text) {
      if (status === 200) {
        var data = JSON.parse(text);
        for (var i = 0; i < data.messages.length; i++) {
          var message = data.messages[i];
          sms.after = message.at;
          if (!sms.seen[message.id]) {
            sms.seen[message.id] = true;
            smsAdd(message.body, false, message.at);
          }
        }
      }
      if (new Date().getTime() < sms.pollUntil && !sms.timer) {
        sms.timer = window.setTimeout(smsPoll, POLL_EVERY_MS);
      }
    });
  }

  function smsStart() {
    // A different number is another handset: its own thread.
    if (sms.number !== phone()) {
      sms.number = phone();
      sms.after = "";
      sms.seen = {};
      byId("sms-thread").textContent = "";
    }
    smsKeepPolling();
  }

  function smsKeepPolling() {
    sms.pollUntil = new Date().getTime() + POLL_FOR_MS;
    if (!sms.timer) {
      smsPoll();
    }
  }

  function smsSend(event) {
    event.preventDefault();
    var input = byId("sms-input");
    var text = input.value;
    if (!text.replace(/\s+/g, "")) {
      return;
    }
    smsStart();
    var now = new Date();
    var form = {
      from: sms.number,
      to: config.shortcode,
      text: text,
      date: now.toISOString().substring(0, 19).replace("T", " "),
      id: randomId("sim-"),
      linkId: "",
      networkCode: config.network
    };
    smsAdd(text, true, null);
    input.value = "";
    request("POST", config.smsUrl, encode(form), function (status, body) {
      if (status !== 200) {
        smsAdd(config.textError + " (HTTP " + status + ") " + body, false, null);
      }
      smsKeepPolling();
    });
  }

  /* -- modes ----------------------------------------------------------------------------- */

  function showPane(id, visible) {
    // The attribute, not the property: old browsers only know the CSS rule for [hidden].
    if (visible) {
      byId(id).removeAttribute("hidden");
    } else {
      byId(id).setAttribute("hidden", "hidden");
    }
  }

  function setMode(mode) {
    var isSms = mode === "sms";
    showPane("ussd-pane", !isSms);
    showPane("sms-pane", isSms);
    byId("mode-ussd").className = isSms ? "mode" : "mode on";
    byId("mode-sms").className = isSms ? "mode on" : "mode";
    byId("mode-ussd").setAttribute("aria-pressed", isSms ? "false" : "true");
    byId("mode-sms").setAttribute("aria-pressed", isSms ? "true" : "false");
    if (isSms) {
      smsStart();
      byId("sms-input").focus();
    }
  }

  byId("ussd-dial").onclick = ussdDial;
  byId("ussd-hangup").onclick = ussdHangup;
  byId("ussd-form").onsubmit = ussdAnswer;
  byId("keypad").onclick = keypad;
  byId("sms-form").onsubmit = smsSend;
  byId("mode-ussd").onclick = function () {
    setMode("ussd");
  };
  byId("mode-sms").onclick = function () {
    setMode("sms");
  };
})();
