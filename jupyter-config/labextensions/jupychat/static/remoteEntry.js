// jupychat's JupyterLab extension, written by hand (no build step). It exists so that its
// settings schema (schemas/jupychat/plugin.json) can add "Help > Chat Sessions" through
// "jupyter.lab.menus", the way JupyterLab expects extensions to add menu items. The plugin
// itself does nothing. This file is the module-federation container JupyterLab loads for
// every prebuilt extension: init() receives the shared scope (nothing is shared here) and
// get("./extension") returns the module factory.
(function () {
  "use strict";
  var plugin = {
    id: "jupychat:plugin",
    description: "The Help menu entry of jupychat's chat sessions browser.",
    autoStart: true,
    activate: function () {}
  };
  var registry = (window._JUPYTERLAB = window._JUPYTERLAB || {});
  registry.jupychat = {
    init: function () { return Promise.resolve(); },
    get: function (module) {
      if (module !== "./extension") {
        return Promise.reject(new Error("jupychat has no module " + module));
      }
      return Promise.resolve(function () {
        return { __esModule: true, default: [plugin] };
      });
    }
  };
})();
