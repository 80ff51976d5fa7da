/*
 * A minimal stand-in for LuCI's JS runtime (luci.js and the view, rpc, poll, uci, ui classes), enough to
 * run a LuCI view as LuCI does: fetch the view's source, resolve its 'require' lines, compile it with
 * new Function, then load() -> render() into #view. rpc calls are ubus JSON-RPC 2.0 POSTs to /ubus, the
 * same requests LuCI's rpc.js sends to uhttpd-mod-ubus. Only what mip4's view uses is here.
 */
(function() {
	'use strict';
	var SID = '00000000000000000000000000000000';

	function E(tag, attrs, children) {
		var node = document.createElement(tag);
		if (Array.isArray(attrs) || typeof attrs === 'string' || attrs instanceof Node) {
			children = attrs;
			attrs = null;
		}
		Object.keys(attrs || {}).forEach(function(k) {
			var v = attrs[k];
			if (typeof v === 'function')
				node.addEventListener(k, v);
			else if (v != null)
				node.setAttribute(k, v);
		});
		if (tag === 'input' && attrs && attrs.value != null)
			node.value = attrs.value;
		(Array.isArray(children) ? children : [children]).forEach(function(c) {
			if (c == null || c === '')
				return;
			node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
		});
		return node;
	}

	var id = 0;
	function ubus(object, method, params) {
		return fetch('/ubus', {
			method: 'POST', headers: { 'Content-Type': 'application/json' },
			body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method: 'call', params: [SID, object, method, params || {}] })
		}).then(function(r) { return r.json(); }).then(function(reply) {
			if (reply.error)
				throw new Error(reply.error.message);
			if (reply.result[0] !== 0)
				throw new Error((reply.result[1] && reply.result[1].error) || 'ubus status ' + reply.result[0]);
			return reply.result[1];
		});
	}

	var rpc = {
		declare: function(opts) {
			return function() {
				var args = {}, params = opts.params || [];
				for (var i = 0; i < params.length; i++)
					args[params[i]] = arguments[i];
				return ubus(opts.object, opts.method, args).then(function(reply) {
					var keys = Object.keys(opts.expect || {});
					if (keys.length === 1 && keys[0] !== '')
						return reply[keys[0]] != null ? reply[keys[0]] : opts.expect[keys[0]];
					return reply;
				});
			};
		}
	};

	var poll = {
		add: function(fn, interval) {
			(function step() {
				Promise.resolve().then(fn).catch(function(e) { console.error(e); })
					.then(function() { setTimeout(step, (interval || 5) * 1000); });
			})();
		}
	};

	var uci = {
		state: {}, changes: {},
		load: function(conf) {
			return ubus('uci', 'get', { config: conf }).then(function(r) { uci.state[conf] = r.values; });
		},
		get: function(conf, sid, opt) {
			var s = (uci.state[conf] || {})[sid];
			return s ? (opt == null ? s : s[opt]) : null;
		},
		set: function(conf, sid, opt, value) {
			uci.state[conf][sid][opt] = value;
			((uci.changes[conf] = uci.changes[conf] || {})[sid] = uci.changes[conf][sid] || {})[opt] = value;
		},
		sections: function(conf, type) {
			var all = uci.state[conf] || {};
			return Object.keys(all).map(function(k) { return all[k]; })
				.filter(function(s) { return !type || s['.type'] === type; })
				.sort(function(a, b) { return a['.index'] - b['.index']; });
		},
		save: function() {
			var calls = [];
			Object.keys(uci.changes).forEach(function(conf) {
				Object.keys(uci.changes[conf]).forEach(function(sid) {
					calls.push(ubus('uci', 'set', { config: conf, section: sid, values: uci.changes[conf][sid] }));
				});
			});
			return Promise.all(calls);
		}
	};

	var ui = {
		createHandlerFn: function(self, name) {
			return function(ev) { return self[name](ev); };
		},
		addNotification: function(title, children, cls) {
			var n = E('div', { 'class': 'alert-message ' + (cls || '') }, [title ? E('h4', {}, title) : '', children]);
			document.getElementById('notifications').appendChild(n);
			return n;
		},
		changes: {
			apply: function() {  /* LuCI: apply the staged changes (uci commit, then the init scripts reload) */
				var confs = Object.keys(uci.changes);
				return Promise.all(confs.map(function(conf) { return ubus('uci', 'commit', { config: conf }); }))
					.then(function() { uci.changes = {}; });
			}
		}
	};

	var view = {
		extend: function(proto) {
			function View() {}
			View.prototype = proto;
			return View;
		}
	};

	window.E = E;
	window._ = function(s) { return s; };
	window.L = { env: { sessionid: SID }, bind: function(fn, self) { return fn.bind(self); } };
	var classes = { view: view, rpc: rpc, poll: poll, uci: uci, ui: ui };

	/* luci.js's view loader: 'require name' lines become the compiled function's arguments */
	window.loadView = function(path) {
		return fetch('/luci-static/resources/view/' + path + '.js').then(function(r) { return r.text(); }).then(function(src) {
			var names = [], args = [], re = /^'require[ \t]+(\S+)';$/gm, m;
			while ((m = re.exec(src)) !== null) {
				if (!classes[m[1]])
					throw new Error('stand-in has no class ' + m[1]);
				names.push(m[1]);
				args.push(classes[m[1]]);
			}
			var View = new Function(names.join(','), src).apply(window, args);
			var v = new View();
			return Promise.resolve(v.load()).then(function(data) { return v.render(data); }).then(function(node) {
				document.getElementById('view').appendChild(node);
				document.body.setAttribute('data-view-ready', '1');
			});
		}).catch(function(e) {
			document.getElementById('view').appendChild(E('pre', { 'id': 'view-error' }, String(e.stack || e)));
		});
	};
})();
