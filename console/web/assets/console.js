// reftrail console: small enhancements; every page works without them.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // Copy buttons copy the value of the input they name.
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var input = document.getElementById(button.dataset.copy);
      var status = document.querySelector(".copy-status");
      var done = function () { if (status) status.textContent = "Link copied."; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () {
          input.select();
          if (status) status.textContent = "Press Ctrl+C (or ⌘C) to copy the selected link.";
        });
      } else {
        input.select();
        document.execCommand("copy");
        done();
      }
    });
  });

  // The period's time zone defaults to the browser's: remember it in a
  // cookie the server reads, and show the page again in that zone.
  var tz = document.querySelector("select[data-auto-tz]");
  var zone = window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (tz && zone) {
    document.cookie = "reftrail_tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=strict";
    if (zone !== tz.value) {
      location.reload();
      return;
    }
  }

  // Changing a day of the period means choosing the days.
  var period = document.getElementById("period");
  document.querySelectorAll("#from, #to").forEach(function (input) {
    input.addEventListener("change", function () { if (period) period.value = "custom"; });
  });

  // Times are rendered in UTC on the server; show them in the reader's zone.
  // Days (datetime without a time) are UTC days and stay as they are.
  var fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  document.querySelectorAll('time[datetime*="T"]').forEach(function (t) {
    var d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) {
      t.title = t.textContent;
      t.textContent = fmt.format(d);
    }
  });
});
