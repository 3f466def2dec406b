// Copy buttons on the landing page.
"use strict";
for (const button of document.querySelectorAll("button[data-copy]")) {
  button.hidden = false;
  button.addEventListener("click", async () => {
    const text = document.getElementById(button.dataset.copy).textContent;
    try {
      // A browser may leave the permission pending for good: fall back to
      // selecting the text after a moment.
      const gaveUp = new Promise((_, reject) => setTimeout(() => reject(new Error("no answer")), 1000));
      await Promise.race([navigator.clipboard.writeText(text), gaveUp]);
      button.textContent = "Copied";
    } catch (_) {
      const range = document.createRange();
      range.selectNodeContents(document.getElementById(button.dataset.copy));
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      button.textContent = "Selected: press Ctrl+C";
    }
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  });
}
