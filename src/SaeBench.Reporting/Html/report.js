// report.html's behaviour: sortable table, filters, and the interactive chart (when Vega is inlined).
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var metricsByKey = {};
  data.metrics.forEach(function (m) { metricsByKey[m.key] = m; });

  function checked(name) {
    var set = {};
    document.querySelectorAll('input[data-filter="' + name + '"]').forEach(function (i) { if (i.checked) set[i.value] = true; });
    return set;
  }

  // ---- table: sort by clicking a header; numbers by value, undefined last ----
  var table = document.getElementById('metrics-table');
  var headers = table.querySelectorAll('thead th');
  headers.forEach(function (th, col) {
    th.addEventListener('click', function () {
      var ascending = th.getAttribute('aria-sort') !== 'ascending';
      headers.forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var ca = a.cells[col], cb = b.cells[col];
        var va = ca.getAttribute('data-value'), vb = cb.getAttribute('data-value');
        if (va !== null || vb !== null) {
          if (va === null || va === '') return 1;
          if (vb === null || vb === '') return -1;
          var d = parseFloat(va) - parseFloat(vb);
          return ascending ? d : -d;
        }
        var t = ca.textContent.localeCompare(cb.textContent, undefined, { numeric: true });
        return ascending ? t : -t;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });

  // ---- filters apply to the table and the chart ----
  function applyFilters() {
    var archs = checked('architecture'), widths = checked('width');
    Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
      r.hidden = !(archs[r.getAttribute('data-architecture')] && widths[r.getAttribute('data-width')]);
    });
    draw();
  }
  document.querySelectorAll('input[data-filter]').forEach(function (i) { i.addEventListener('change', applyFilters); });

  // ---- chart ----
  var chart = document.getElementById('chart');
  var status = document.getElementById('chart-status');
  var xSelect = document.getElementById('x-metric'), ySelect = document.getElementById('y-metric');
  var logX = document.getElementById('log-x'), logY = document.getElementById('log-y');
  var view = null, renders = 0;

  function draw() {
    if (!chart || typeof vegaEmbed !== 'function') return;
    var xKey = xSelect.value, yKey = ySelect.value;
    var xm = metricsByKey[xKey], ym = metricsByKey[yKey];
    var archs = checked('architecture'), widths = checked('width');
    var values = [];
    data.rows.forEach(function (r) {
      if (!archs[r.architecture] || !widths[r.width]) return;
      var x = r.values[xKey], y = r.values[yKey];
      if (typeof x !== 'number' || typeof y !== 'number') return;
      if ((logX.checked && !(x > 0)) || (logY.checked && !(y > 0))) return;
      values.push({ checkpoint_id: r.checkpoint_id, architecture: r.architecture, width: r.width, x: x, y: y });
    });
    var spec = {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      width: 620, height: 380, background: 'white',
      config: { font: 'DejaVu Sans, Helvetica, Arial, sans-serif' },
      data: { values: values },
      mark: { type: 'point', filled: true, size: 70 },
      encoding: {
        x: { field: 'x', type: 'quantitative', title: xm.title, scale: logX.checked ? { type: 'log' } : { zero: false } },
        y: { field: 'y', type: 'quantitative', title: ym.title, scale: logY.checked ? { type: 'log' } : { zero: false } },
        color: { field: 'architecture', type: 'nominal', title: 'Architecture', scale: { domain: data.architectures, range: data.colors } },
        shape: { field: 'width', type: 'nominal', title: 'Width (latents)', scale: { domain: data.widths } },
        tooltip: [
          { field: 'checkpoint_id', type: 'nominal', title: 'Checkpoint' },
          { field: 'architecture', type: 'nominal', title: 'Architecture' },
          { field: 'width', type: 'nominal', title: 'Width' },
          { field: 'x', type: 'quantitative', title: xm.title },
          { field: 'y', type: 'quantitative', title: ym.title }
        ]
      }
    };
    vegaEmbed(chart, spec, { renderer: 'svg', actions: false }).then(function (result) {
      if (view) view.finalize();
      view = result.view;
      renders += 1;
      chart.setAttribute('data-renders', String(renders));
      chart.setAttribute('data-y', yKey);
      chart.setAttribute('data-points', String(values.length));
      status.textContent = values.length + ' checkpoint(s) have both metrics' + (values.length ? '' : ' — nothing to plot');
    }).catch(function (e) {
      status.textContent = 'Chart error: ' + e.message;
      console.error(e);
    });
  }

  if (chart) {
    [xSelect, ySelect, logX, logY].forEach(function (el) { el.addEventListener('change', draw); });
    draw();
  }
})();
