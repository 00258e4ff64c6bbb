// Loaded into every page of the test browser before the desk's own scripts (a Playwright init script).
// It changes nothing the user sees; it only lets the tests see what the desk showed and work without a
// realtime server.
//
// 1. Messages: every frappe.msgprint (Frappe's message dialog, also used for the server's errors) is
//    recorded in window.__opb_messages with its title, indicator colour and text, so a step can fail on an
//    error dialog even when a later page load has closed it.
// 2. Realtime: the test server runs no socket.io server and tells the desk so (site config
//    `disable_async`, see serve.py). Frappe v15's realtime client then skips connecting but still calls
//    `this.socket.emit` to subscribe each list and form, which throws "Cannot read properties of
//    undefined (reading 'emit')" on every page. The client gets a socket that does nothing, exactly when
//    Frappe leaves it without one.
(() => {
	const frappe = (window.frappe = window.frappe || {});
	window.__opb_messages = [];

	const silent_socket = {
		connected: false,
		on() {},
		off() {},
		emit() {},
		connect() {},
		disconnect() {},
	};

	const text_of = (html) => {
		const element = document.createElement("div");
		element.innerHTML = String(html === undefined || html === null ? "" : html);
		return element.innerText || element.textContent || "";
	};

	const record = (msg, title) => {
		if (Array.isArray(msg)) {
			// the server's messages, one JSON string each
			msg.forEach((one) => record(one, title));
			return;
		}
		let data = msg;
		if (typeof msg === "string" && msg.substr(0, 1) === "{") {
			try {
				data = JSON.parse(msg);
			} catch (e) {
				data = { message: msg };
			}
		} else if (!msg || typeof msg !== "object") {
			data = { message: msg, title };
		}
		const message = Array.isArray(data.message) ? data.message.join("\n") : data.message;
		window.__opb_messages.push({
			title: text_of(data.title || title || ""),
			indicator: data.indicator || "blue",
			message: text_of(message).slice(0, 2000),
			route: window.location.pathname,
		});
	};

	// Each property is wrapped when the desk assigns it (frappe.realtime, frappe.msgprint).
	const wrap_on_assign = (name, wrap) => {
		let value;
		Object.defineProperty(frappe, name, {
			configurable: true,
			enumerable: true,
			get: () => value,
			set(assigned) {
				value = wrap(assigned);
			},
		});
	};

	wrap_on_assign("msgprint", (msgprint) => {
		if (typeof msgprint !== "function") return msgprint;
		return function (msg, title, ...rest) {
			if (msg) {
				try {
					record(msg, title);
				} catch (e) {
					// recording must never change what the desk does
				}
			}
			return msgprint.call(this, msg, title, ...rest);
		};
	});

	wrap_on_assign("realtime", (client) => {
		if (!client || typeof client.init !== "function") return client;
		const init = client.init;
		client.init = function (...args) {
			const result = init.apply(this, args);
			if (!this.socket && window.frappe.boot && window.frappe.boot.disable_async) {
				this.socket = silent_socket;
			}
			return result;
		};
		return client;
	});
})();
