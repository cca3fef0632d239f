console.log('cli todo');
