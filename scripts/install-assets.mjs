console.log('assets: placeholder')
