self.helperLoaded = 'helper.js ran';
