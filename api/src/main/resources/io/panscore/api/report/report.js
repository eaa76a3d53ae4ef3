// panscore report: draws the token heatmaps from the embedded JSON. Every string from the data is
// put into the page with textContent, never parsed as HTML.
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('panscore-data').textContent);
  var tip = document.getElementById('tip');
  var mode = data.colour;
  var maxEntropy = 0;
  data.heatmaps.forEach(function (hm) {
    (hm.h || []).forEach(function (v) { if (v !== null && v > maxEntropy) { maxEntropy = v; } });
  });
  if (!(maxEntropy > 0)) { maxEntropy = 1; }

  function fmt(v, d) { return (v === null || v === undefined || isNaN(v)) ? '\u2013' : Number(v).toFixed(d); }

  // what a token shows: its text with newlines and tabs made visible, or its id when there is no text
  function shown(hm, i) {
    var t = hm.t ? hm.t[i] : null;
    if (t === null || t === undefined) { return { text: '#' + (hm.ids ? hm.ids[i] : i), special: true }; }
    if (t === '') { return { text: '\u2205', special: true }; }
    return { text: t.replace(/\t/g, '\u2192\t').replace(/\r?\n/g, '\u21B5\n'), special: false };
  }

  function value(hm, i) {
    if (mode === 'entropy') { return hm.h ? hm.h[i] : null; }
    var lp = hm.lp[i];
    return lp === null ? null : -lp;
  }

  function colour(v) {
    if (v === null || v === undefined || isNaN(v)) { return '#e6e6e6'; }
    var max = mode === 'entropy' ? maxEntropy : data.surprisalScale;
    var x = Math.max(0, Math.min(1, v / max));
    return 'hsl(' + (60 - 60 * x).toFixed(0) + ',90%,' + (96 - 50 * x).toFixed(0) + '%)';
  }

  var built = [];

  function paintOne(hm, h) {
    var spans = document.getElementById('hm-' + h).querySelectorAll('.tok');
    var max = mode === 'entropy' ? maxEntropy : data.surprisalScale;
    for (var i = 0; i < spans.length; i++) {
      var v = value(hm, i);
      spans[i].style.background = colour(v);
      spans[i].style.color = (v !== null && v / max > 0.7) ? '#fff' : '';
    }
  }

  function paint() {
    data.heatmaps.forEach(function (hm, h) { if (built[h]) { paintOne(hm, h); } });
    var legend = document.getElementById('legend-max');
    if (legend) { legend.textContent = mode === 'entropy' ? fmt(maxEntropy, 2) + ' nats' : '\u2265' + data.surprisalScale + ' nats'; }
  }

  function line(parent, key, val) {
    var row = document.createElement('div');
    var k = document.createElement('span');
    k.className = 'k';
    k.textContent = key + ' ';
    row.appendChild(k);
    row.appendChild(document.createTextNode(val));
    parent.appendChild(row);
  }

  function show(ev, hm, i) {
    tip.textContent = '';
    var raw = hm.t ? hm.t[i] : null;
    line(tip, 'token', raw === null || raw === undefined ? '(no text)' : JSON.stringify(raw));
    if (hm.ids) { line(tip, 'id', String(hm.ids[i])); }
    line(tip, 'position', String(i));
    line(tip, 'logprob', fmt(hm.lp[i], 4) + '  (surprisal ' + fmt(hm.lp[i] === null ? null : -hm.lp[i], 4) + ')');
    line(tip, 'rank', String(hm.r[i]));
    line(tip, 'entropy', fmt(hm.h ? hm.h[i] : null, 4));
    if (hm.k && hm.k[i] && hm.k[i].length) {
      line(tip, 'top-k', '');
      var ol = document.createElement('ol');
      hm.k[i].forEach(function (alt) {
        var li = document.createElement('li');
        li.textContent = JSON.stringify(alt[0]) + '  ' + fmt(alt[1], 4);
        ol.appendChild(li);
      });
      tip.appendChild(ol);
    }
    tip.hidden = false;
    var x = ev.pageX + 14;
    var y = ev.pageY + 14;
    var w = tip.offsetWidth;
    if (x + w > window.scrollX + document.documentElement.clientWidth - 8) { x = Math.max(8, ev.pageX - w - 14); }
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  }

  function build(hm, h) {
    if (built[h]) { return; }
    built[h] = true;
    var box = document.getElementById('hm-' + h).querySelector('.tokens');
    box.style.minHeight = '';
    var frag = document.createDocumentFragment();
    for (var i = 0; i < hm.lp.length; i++) {
      var s = shown(hm, i);
      var span = document.createElement('span');
      span.className = s.special ? 'tok special' : 'tok';
      span.dataset.i = String(i);
      span.textContent = s.text;
      frag.appendChild(span);
    }
    box.appendChild(frag);
    box.addEventListener('mouseover', function (ev) {
      var t = ev.target;
      if (t.classList && t.classList.contains('tok')) { show(ev, hm, Number(t.dataset.i)); }
    });
    box.addEventListener('mousemove', function (ev) {
      var t = ev.target;
      if (t.classList && t.classList.contains('tok')) { show(ev, hm, Number(t.dataset.i)); }
    });
    box.addEventListener('mouseleave', function () { tip.hidden = true; });
    paintOne(hm, h);
  }

  // The first heatmaps, up to a token budget, are drawn at once; the others when they come near
  // the viewport, so a report with thousands of heatmaps still opens quickly.
  var BUDGET = 50000;
  var used = 0;
  var lazy = [];
  data.heatmaps.forEach(function (hm, h) {
    if (h === 0 || used + hm.lp.length <= BUDGET) {
      used += hm.lp.length;
      build(hm, h);
    } else {
      var el = document.getElementById('hm-' + h);
      el.dataset.lazy = 'true';
      el.querySelector('.tokens').style.minHeight = Math.ceil(hm.lp.length / 80) * 25 + 'px';
      lazy.push(el);
    }
  });
  if (lazy.length && 'IntersectionObserver' in window) {
    var io = new IntersectionObserver(function (entries) {
      entries.forEach(function (e) {
        if (e.isIntersecting) {
          var h = Number(e.target.id.slice(3));
          build(data.heatmaps[h], h);
          io.unobserve(e.target);
        }
      });
    }, { rootMargin: '1500px 0px' });
    lazy.forEach(function (el) { io.observe(el); });
  } else {
    lazy.forEach(function (el) { var h = Number(el.id.slice(3)); build(data.heatmaps[h], h); });
  }

  document.querySelectorAll('input[name=colour]').forEach(function (r) {
    r.addEventListener('change', function () { mode = r.value; paint(); });
  });
  paint();
  document.documentElement.dataset.ready = 'true';
}());
